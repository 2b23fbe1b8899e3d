"""The Solver's argument checks: each unusable argument is refused, by name, before
training starts, rather than failing (or being silently ignored) mid-run."""
import contextlib
import difflib
import inspect
import numbers

import numpy as np

from . import optim


def update_rules():
    """The update rules of cs231n/optim.py by name: the public functions defined there."""
    return {
        name: function for name, function in vars(optim).items()
        if inspect.isfunction(function) and function.__module__ == optim.__name__
        and not name.startswith("_")
    }


def _is_count(value, minimum=1):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= minimum


def check_solver_arguments(solver):
    """Raise ValueError naming the first of the solver's data and options that cannot work."""
    if len(solver.X_train) != len(solver.y_train) or len(solver.X_val) != len(solver.y_val):
        raise ValueError(
            f"data sizes disagree: X_train {len(solver.X_train)} vs y_train "
            f"{len(solver.y_train)}, X_val {len(solver.X_val)} vs y_val {len(solver.y_val)}"
        )
    for split in ("train", "val"):
        if len(getattr(solver, f"X_{split}")) == 0:
            raise ValueError(
                f"data['X_{split}'] is empty: the solver needs at least one "
                f"{'training' if split == 'train' else 'validation'} example"
            )
    for name in ("batch_size", "num_epochs", "print_every"):
        if not _is_count(getattr(solver, name)):
            raise ValueError(f"{name} must be a positive integer, got {getattr(solver, name)!r}")
    for name in ("num_train_samples", "num_val_samples"):
        value = getattr(solver, name)
        if value is not None and not _is_count(value):
            raise ValueError(f"{name} must be None or a positive integer, got {value!r}")
    if not isinstance(solver.optim_config, dict):
        raise ValueError(f"optim_config must be a dict, got {solver.optim_config!r}")
    lr_decay = solver.lr_decay
    if (isinstance(lr_decay, bool) or not isinstance(lr_decay, numbers.Real)
            or not np.isfinite(lr_decay) or lr_decay <= 0):
        raise ValueError(f"lr_decay must be a positive number, got {lr_decay!r}")


def resolve_update_rule(update_rule, optim_config):
    """(function, name) of an update rule given by name or as a callable.

    A named rule must exist in cs231n/optim.py, and optim_config may hold only keys it
    uses. The name is the rule's name in cs231n/optim.py, or the module and qualified
    name of a custom callable.
    """
    rules = update_rules()
    if isinstance(update_rule, str):
        if update_rule not in rules:
            raise ValueError(
                f'Invalid update_rule "{update_rule}": cs231n/optim.py has {", ".join(sorted(rules))}'
            )
        _check_optim_config(rules[update_rule], update_rule, optim_config)
        return rules[update_rule], update_rule
    if not callable(update_rule):
        raise ValueError(f"update_rule must be a name or a callable, got {update_rule!r}")
    if rules.get(getattr(update_rule, "__name__", None)) is update_rule:
        return update_rule, update_rule.__name__
    module = getattr(update_rule, "__module__", None)
    qualified = getattr(update_rule, "__qualname__", repr(update_rule))
    return update_rule, f"{module}.{qualified}" if module else qualified


def _check_optim_config(rule, rule_name, optim_config):
    """Refuse optim_config keys the named rule never reads (a misspelled key would
    otherwise be silently ignored and its default used)."""
    used = {}
    # A starter release's rule fills in its defaults before its placeholder raises.
    with contextlib.suppress(NotImplementedError):
        rule(np.zeros(1), np.zeros(1), used)
    unknown = sorted(set(optim_config) - set(used))
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, used, n=1)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise ValueError(
            f"optim_config has key(s) that update rule {rule_name} does not use: "
            f"{', '.join(hints)}; it uses {', '.join(sorted(used))}"
        )
