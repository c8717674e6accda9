"""common.tolerances: each measure as its docstring states it, on numbers worked out by hand."""
import numpy as np

from common.tolerances import differences, floors, measure_step, relative_difference, step_floors, tolerance


def test_noise_is_measured_at_its_floor_not_at_its_own_size():
    """Two roundings of a gradient that is 0 in exact arithmetic differ by about 1 relative to
    themselves; at the scale of the layer's weight gradient, by 1e-16."""
    noise, other = np.array([1e-17, -2e-17]), np.array([-3e-17, 1e-17])
    assert relative_difference(noise, other) > 1  # 4e-17 / 3e-17
    assert relative_difference(noise, other, floor=0.5) == 4e-17 / 0.5
    assert relative_difference(noise, other, floor=1e-30) > 1  # a floor below the noise changes nothing


def test_floors_and_differences_read_each_partner():
    weight, bias = np.array([[0.5, -2.0]]), np.array([1e-17])
    assert floors([weight, bias], [None, 0]) == [0.0, 2.0]
    assert differences([weight, bias + 3e-17], [weight, bias], [None, 0]) == [0.0, 3e-17 / 2.0]
    assert differences([weight, bias + 3e-17], [weight, bias])[1] == 3.0  # without partners: at its own size


def test_a_step_of_noise_is_measured_at_its_partner_step():
    tol = tolerance("float64")
    before = [np.array([[1.0, 1.0]]), np.array([0.0])]
    after = [np.array([[0.9, 1.1]]), np.array([1e-18])]
    (w, b) = step_floors(after, before, [None, 0])
    assert w == 0.0 and abs(b - 0.1) < 1e-15
    mine = np.array([-1e-18])  # the other backend's noise stepped the other way
    assert measure_step(mine, after[1], before[1], tol)["relative"] > 1
    assert measure_step(mine, after[1], before[1], tol, floor=b)["relative"] <= tol.single
