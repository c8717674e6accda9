"""One frozen configuration for a comparison run, built once from the command line."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

BACKENDS = ("from_scratch", "torch_impl")
RULES = ("true", "book")

# The 2017 experiment as published: full MNIST, 784-200-10, lr 0.1, 5 epochs, one sample a
# step. Its PyTorch port used float32 tensors (torch.FloatTensor); the book's NumPy, float64.
PRESETS = {
    "seed": dict(dataset="mnist", hidden=(200,), lr=0.1, epochs=5, batch_size=1, dtype="float32"),
}
# Seconds the seed measured for those 5 epochs on 2017 hardware (the GPU was a K80).
SEED_SECONDS = {("from_scratch", "cpu"): 440.0, ("torch_impl", "cpu"): 841.0, ("torch_impl", "cuda"): 366.0}


@dataclass(frozen=True)
class Config:
    """Everything a run needs; see ``python -m compare --help`` for each field's meaning."""

    dataset: str = "embedded"
    data_dir: Path | None = None
    train_limit: int | None = None
    test_limit: int | None = None
    epochs: int = 1
    hidden: tuple[int, ...] = (200,)
    lr: float = 0.1
    batch_size: int = 1
    dtype: str = "float64"
    devices: tuple[str, ...] = ("cpu",)
    threads: int = 1
    seed: int = 0
    shuffle: bool = False
    rule: str = "true"
    backends: tuple[str, ...] = BACKENDS
    check_every: int = 1000
    preset: str | None = None
    json_path: Path | None = None
    plot_path: Path | None = None
    save_dir: Path | None = None
    quiet: bool = False
    progress: bool = False
    input_nodes: int = field(default=784, init=False)
    output_nodes: int = field(default=10, init=False)

    @property
    def is_sweep(self) -> bool:
        """Several hidden sizes or devices: print the seed's table (hidden nodes x device)."""
        return len(self.hidden) > 1 or len(self.devices) > 1

    def to_json(self) -> dict:
        """The configuration as JSON-ready values (paths as strings)."""
        return {k: (str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v)
                for k, v in asdict(self).items()}
