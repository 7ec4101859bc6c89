"""load_state_dict is all or nothing, names the key of a bad value, takes a bool strict;
parameter allocations are checked against the available memory."""

import numpy as np
import pytest

import convcore._checks
from convcore import nn


def _model():
    return nn.Sequential(nn.Linear(3, 4, rng=0), nn.ReLU(), nn.Linear(4, 2, rng=1),
                         nn.BatchNorm1d(2))


class _Unreadable:
    """An array-like whose conversion fails with an error that is neither TypeError nor
    ValueError (as a meta tensor's does)."""

    shape = (2, 4)

    def __array__(self, dtype=None, copy=None):
        raise RuntimeError("no data behind this value")


def _assert_unchanged(model, before):
    after = model.state_dict()
    assert list(after) == list(before)
    for k, v in before.items():
        np.testing.assert_array_equal(after[k], v, err_msg=k)


def test_any_error_leaves_every_layer_unchanged():
    model = _model()
    before = model.state_dict()
    state = {k: np.full_like(v, 7) for k, v in before.items()}
    state["2.weight"] = _Unreadable()  # layer 0 comes first and reads fine
    with pytest.raises(TypeError, match=r"2\.weight: cannot be read as a NumPy array.*"
                                        "RuntimeError: no data behind this value"):
        model.load_state_dict(state)
    _assert_unchanged(model, before)


@pytest.mark.parametrize("key, bad, message", [
    ("2.weight", lambda torch: torch.empty((2, 4), device="meta"), "meta"),
    ("3.running_var", lambda torch: torch.ones(2, dtype=torch.bfloat16), "BFloat16"),
])
def test_unreadable_tensor_leaves_every_layer_unchanged_and_names_its_key(key, bad, message):
    torch = pytest.importorskip("torch")
    model = _model()
    before = model.state_dict()
    state = {k: torch.from_numpy(np.full_like(v, 7)) for k, v in before.items()}
    state[key] = bad(torch)  # layer 0 comes first and reads fine
    with pytest.raises(TypeError, match=rf"{key}: cannot be read.*{message}"):
        model.load_state_dict(state)
    _assert_unchanged(model, before)
    state[key] = torch.from_numpy(np.ones(before[key].shape, np.float32))  # now it loads
    model.load_state_dict(state)
    np.testing.assert_array_equal(model.state_dict()["0.bias"], 7)


def test_strict_must_be_a_bool():
    model = _model()
    state = model.state_dict()
    for bad in ("yes", 1, None):
        with pytest.raises(TypeError, match="strict must be True or False"):
            model.load_state_dict(state, strict=bad)
        with pytest.raises(TypeError, match="strict must be True or False"):
            model[0].load_state_dict(model[0].state_dict(), strict=bad)
    with pytest.raises(TypeError, match="state must be a mapping"):
        model.load_state_dict([("0.weight", np.zeros((4, 3)))])


def test_bad_dtype_and_shape_errors_name_the_full_key():
    model = _model()
    state = model.state_dict()
    with pytest.raises(TypeError, match=r"2\.bias has dtype complex128"):
        model.load_state_dict({**state, "2.bias": np.zeros(2, complex)})
    with pytest.raises(ValueError, match=r"0\.weight has shape \(3, 4\); Linear\(3, 4\)'s "
                                         r"weight has shape \(4, 3\)"):
        model.load_state_dict({**state, "0.weight": np.zeros((3, 4))})


@pytest.mark.parametrize("make", [lambda: nn.Linear(1, 3 * 10**8),
                                  lambda: nn.Conv2d(3 * 10**4, 10**4, 1)])
def test_parameter_allocation_is_checked_against_available_memory(monkeypatch, make):
    monkeypatch.setattr(convcore._checks, "available_memory", lambda: 2 * 2**30)
    with pytest.raises(MemoryError, match=r"parameters.*GB; only 2\.1 GB of memory is "
                                          "available"):
        make()
    nn.Linear(1, 3 * 10**8, init=False)  # placeholders allocate nothing
    nn.Linear(1, 1000)  # small layers are not checked
