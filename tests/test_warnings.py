"""The test run's warning filter (setup.cfg): a warning from the library's own code is an error."""
import warnings

import pytest

LIBRARY = ("from_scratch", "from_scratch.network", "torch_impl.network", "common.data", "compare", "compare.race.runner")


@pytest.mark.parametrize("module", LIBRARY)
def test_a_warning_raised_by_the_librarys_code_fails_the_tests(module):
    with pytest.raises(DeprecationWarning):
        warnings.warn_explicit("planted", DeprecationWarning, "planted.py", 1, module=module)


@pytest.mark.parametrize("module", ("numpy", "torch.nn.modules.module", "commonmark", "compare_tool", "tests.x"))
def test_a_warning_about_other_code_stays_a_warning(module):
    with pytest.warns(DeprecationWarning, match="planted"):
        warnings.warn_explicit("planted", DeprecationWarning, "planted.py", 1, module=module)
