"""Training loop for classification models: minibatch SGD-style optimization."""
import copy
import warnings

import numpy as np
from .progress import tqdm

from . import checkpoint
# Solver.load_checkpoint raises it, so it can be imported from here along with Solver.
from .checkpoint import CheckpointError
from .solver_options import check_solver_arguments, resolve_update_rule, update_rules

# What a checkpoint stores of the solver besides the model and the random states:
# the options load_checkpoint builds the solver with, and the progress it restores.
_SAVED_OPTIONS = ("optim_config", "lr_decay", "batch_size", "num_epochs",
                  "num_train_samples", "num_val_samples")
_SAVED_PROGRESS = ("epoch", "iteration", "loss_history", "train_acc_history", "val_acc_history",
                   "best_val_acc", "best_params", "best_bn_params", "optim_configs")


def _all_finite(array):
    """True when every entry of the float array is finite.

    The sum of squares reads the array once, with no temporary: it is finite whenever
    every entry is. Only when it is not (a NaN or infinity, or squares too large for
    the dtype) does each entry get checked. On the largest weights of a network this
    check runs twice per update, so its cost is felt.
    """
    flat = np.ravel(array)
    with np.errstate(over="ignore", invalid="ignore"):
        sum_of_squares = np.dot(flat, flat)
    return bool(np.isfinite(sum_of_squares)) or bool(np.all(np.isfinite(flat)))


class Solver:
    """Trains a classification model with minibatch gradient updates.

    The model must provide:
    - model.params: dict mapping parameter names to numpy arrays.
    - model.loss(X, y): returns (loss, grads) with grads keyed like model.params
      during training, and class scores of shape (N, C) when called as model.loss(X).

    Example::

        data = {"X_train": ..., "y_train": ..., "X_val": ..., "y_val": ...}
        model = FullyConnectedNet([100], reg=1e-3)
        solver = Solver(model, data, update_rule="adam",
                        optim_config={"learning_rate": 1e-3},
                        lr_decay=0.95, num_epochs=10, batch_size=100, print_every=100)
        solver.train()

    After train() returns, model.params holds the parameters that reached the best
    validation accuracy, and the solver exposes:
    - loss_history: training loss of every iteration.
    - train_acc_history, val_acc_history: accuracies measured at every epoch end
      (and once after the first iteration).
    - best_val_acc, best_params: the best validation accuracy and its parameters.
    - best_bn_params: for models that keep batch normalization running statistics
      in model.bn_params, a copy of those from the best epoch (None otherwise). They
      are restored together with best_params, so that the final model reproduces
      best_val_acc at test time.
    - epoch: number of completed epochs.

    Checkpoints and resuming: with checkpoint_name set, the full training state
    (the model's parameters and batch normalization statistics, per-parameter
    optimizer state, histories, best parameters, the minibatch sampler's random
    state, NumPy's global random state and the iteration counter) is written after
    every evaluation to "{checkpoint_name}_epoch_{epoch}.npz". A checkpoint is data
    only, so loading one never runs code from it, and is written atomically, so a
    crash mid-write never leaves a truncated one (cs231n/checkpoint.py has the
    format). ``Solver.load_checkpoint(path, model, data)`` loads such a file into a
    model of the same architecture and returns a solver whose train() continues
    exactly where the saved run stopped (pass num_epochs=... to train for longer
    than originally planned). Loading a checkpoint also restores NumPy's global
    random state (np.random), since layers such as dropout without a seed draw from it.

    Training stops early, with a RuntimeWarning naming the iteration, when the loss,
    the gradient of a parameter or the updated value of a parameter becomes NaN or
    infinite; the model then keeps the best parameters seen so far (or, before any
    evaluation, the last finite parameters). Only finite parameters can become the
    best ones. The step that diverged writes nothing into the model, even with an
    update rule that changes w in place (as sgd does), nor into optim_configs; only
    arrays that a rule changes in place inside its config (the rules of
    cs231n/optim.py replace theirs instead) keep that step's values.
    """

    def __init__(self, model, data, **kwargs):
        """Create a solver.

        Required arguments:
        - model: a model object as described in the class docstring.
        - data: dict with "X_train", "y_train", "X_val" and "y_val" arrays, none empty.

        Optional arguments:
        - update_rule: name of a rule in cs231n/optim.py, or a callable with the
          same (w, dw, config) -> (next_w, config) interface. Default "sgd".
        - optim_config: dict of hyperparameters for the update rule; every
          parameter gets its own copy. For a named rule every key must be one the
          rule uses. Default {}.
        - lr_decay: factor applied to the learning rate after each epoch. Default 1.0.
        - batch_size: minibatch size, a positive integer. Default 100.
        - num_epochs: number of epochs to train for, a positive integer. Default 10.
        - num_train_samples: training examples used to measure training accuracy;
          None uses all of them. Default 1000.
        - num_val_samples: validation examples used to measure validation accuracy;
          None uses all of them. Default None.
        - checkpoint_name: file name prefix for checkpoints; None saves none.
        - print_every: print the training loss every this many iterations. Default 10.
        - verbose: print progress and show a progress bar. Default True.
        """
        self.model = model
        missing = [key for key in ("X_train", "y_train", "X_val", "y_val") if key not in data]
        if missing:
            raise ValueError(f"data lacks {', '.join(missing)}")
        self.X_train = data["X_train"]
        self.y_train = data["y_train"]
        self.X_val = data["X_val"]
        self.y_val = data["y_val"]

        self.update_rule = kwargs.pop("update_rule", "sgd")
        self.optim_config = kwargs.pop("optim_config", {})
        self.lr_decay = kwargs.pop("lr_decay", 1.0)
        self.batch_size = kwargs.pop("batch_size", 100)
        self.num_epochs = kwargs.pop("num_epochs", 10)
        self.num_train_samples = kwargs.pop("num_train_samples", 1000)
        self.num_val_samples = kwargs.pop("num_val_samples", None)
        self.checkpoint_name = kwargs.pop("checkpoint_name", None)
        self.print_every = kwargs.pop("print_every", 10)
        self.verbose = kwargs.pop("verbose", True)

        if kwargs:
            raise ValueError(f"Unrecognized arguments: {', '.join(sorted(kwargs))}")
        check_solver_arguments(self)
        self.update_rule, self.update_rule_name = resolve_update_rule(self.update_rule,
                                                                      self.optim_config)
        if self.checkpoint_name is not None:
            # Fail now rather than at the first checkpoint, mid-training.
            try:
                checkpoint.check_encodable(self.optim_config, "optim_config")
            except TypeError as error:
                raise ValueError(f"checkpoint_name is set but {error}") from None

        self._reset()

    def _reset(self):
        """Set up the bookkeeping variables for a fresh optimization run."""
        self.epoch = 0
        self.iteration = 0
        self.best_val_acc = 0
        self.best_params = {}
        self.best_bn_params = None
        self.loss_history = []
        self.train_acc_history = []
        self.val_acc_history = []
        # Seeded from the global generator, so np.random.seed() still makes runs
        # reproducible, but owned by the solver so a checkpoint can save it.
        self.rng = np.random.RandomState(np.random.randint(2**31))
        self.optim_configs = {name: dict(self.optim_config) for name in self.model.params}

    def _step(self):
        """Make one gradient update on a random minibatch.

        Returns None after a normal update, or a description of what became
        non-finite (the loss, a gradient, an updated parameter); then no parameter or
        config is replaced, so that a diverging step does not write NaNs into the model.
        """
        num_train = self.X_train.shape[0]
        batch_mask = self.rng.choice(num_train, self.batch_size)
        X_batch = self.X_train[batch_mask]
        y_batch = self.y_train[batch_mask]

        loss, grads = self.model.loss(X_batch, y_batch)
        self.loss_history.append(loss)
        if not np.isfinite(loss):
            return f"the loss became {loss}"
        for name in self.model.params:
            if not _all_finite(grads[name]):
                return f"the gradient of {name} became non-finite (loss {loss:f})"

        updates = {}
        for name, w in self.model.params.items():
            # Copies, because a rule may update in place (sgd does: w -= ...), and a step
            # found non-finite below must leave w and the stored config as they were.
            # The arrays in the config are not copied: every step would pay for it, and
            # the rules of cs231n/optim.py replace those arrays instead of changing them.
            next_w, next_config = self.update_rule(w.copy(), grads[name], dict(self.optim_configs[name]))
            if not _all_finite(next_w):
                return f"the update of {name} made it non-finite"
            updates[name] = next_w, next_config
        for name, (next_w, next_config) in updates.items():
            self.model.params[name] = next_w
            self.optim_configs[name] = next_config
        return None

    def _checkpoint_state(self):
        """Everything needed to continue training exactly, as a dict for
        checkpoint.write_checkpoint."""
        state = {name: getattr(self, name) for name in _SAVED_OPTIONS + _SAVED_PROGRESS}
        state.update(
            # A named rule is stored by name; a custom callable is code, which a
            # checkpoint does not hold: load_checkpoint asks for it again.
            update_rule=self.update_rule_name if self.update_rule_name in update_rules() else None,
            update_rule_name=self.update_rule_name,
            rng_state=self.rng.get_state(legacy=False),
            # Dropout without a seed draws its masks from the global generator.
            numpy_global_state=np.random.get_state(legacy=False),
            model_params=self.model.params,
            model_bn_params=getattr(self.model, "bn_params", None),
        )
        return state

    def _save_checkpoint(self):
        """Write the training state to disk atomically; returns the path or None."""
        if self.checkpoint_name is None:
            return None
        filename = f"{self.checkpoint_name}_epoch_{self.epoch}{checkpoint.SUFFIX}"
        if self.verbose:
            tqdm.write(f'Saving checkpoint to "{filename}"')
        checkpoint.write_checkpoint(filename, self._checkpoint_state())
        return filename

    @classmethod
    def load_checkpoint(cls, path, model, data, **kwargs):
        """Rebuild a solver from a checkpoint file written during training.

        Inputs:
        - path: a checkpoint (.npz) written by a solver with checkpoint_name set.
        - model: a model of the same architecture as the one trained (for example
          built with the same arguments); its parameters and batch normalization
          statistics are replaced by those of the checkpoint.
        - data: the same data dict the original solver trained on.
        - kwargs: options to change for the continued run (num_epochs, verbose,
          print_every, checkpoint_name), and update_rule when the run used a custom
          callable, which a checkpoint does not store.

        Returns a Solver whose model (solver.model) and state are those of the
        checkpoint; its train() continues from the saved iteration. NumPy's global
        random state (np.random) is set to the one saved in the checkpoint. A file
        that is not such a checkpoint (a pickle from an earlier version, anything
        else) raises CheckpointError naming it; nothing in it is run.
        """
        state = checkpoint.read_checkpoint(path)
        if state["update_rule"] is None and "update_rule" not in kwargs:
            raise CheckpointError(
                f"{path} was trained with the custom update rule {state['update_rule_name']}, "
                f"which a checkpoint does not store: pass it again as "
                f"load_checkpoint(path, model, data, update_rule=...)"
            )
        cls._check_model_fits(path, model, state)
        options = {name: state[name] for name in ("update_rule",) + _SAVED_OPTIONS}
        options.update(kwargs)
        solver = cls(model, data, **options)
        for name in _SAVED_PROGRESS:
            setattr(solver, name, state[name])
        try:
            solver.rng.set_state(state["rng_state"])
            # After constructing the solver, whose _reset() draws from the global state.
            np.random.set_state(state["numpy_global_state"])
        except (KeyError, TypeError, ValueError) as error:
            raise CheckpointError(f"{path}: the saved random state is invalid ({error})") from None
        # Last, so that a checkpoint refused above leaves the model as it was.
        model.params.update(state["model_params"])
        if state["model_bn_params"] is not None:
            model.bn_params = state["model_bn_params"]
        return solver

    @staticmethod
    def _check_model_fits(path, model, state):
        """Raise CheckpointError unless the checkpoint's parameters (and batch
        normalization statistics) have the names and shapes of the model's."""
        def layout(params):
            return {name: getattr(value, "shape", None) for name, value in params.items()}

        saved, expected = layout(state["model_params"]), layout(model.params)
        if saved != expected or (state["best_params"] and layout(state["best_params"]) != expected):
            raise CheckpointError(
                f"{path} holds parameters {saved}, but the model has {expected}: build the "
                f"model with the same architecture as the one that was trained"
            )
        bn_params = state["model_bn_params"]
        if bn_params is not None and len(bn_params) != len(getattr(model, "bn_params", [])):
            raise CheckpointError(
                f"{path} holds batch normalization statistics for {len(bn_params)} layers, "
                f"but the model has {len(getattr(model, 'bn_params', []))}"
            )

    def check_accuracy(self, X, y, num_samples=None, batch_size=100):
        """Classification accuracy of the model on the data (X, y).

        Inputs:
        - X: data of shape (N, d_1, ..., d_k)
        - y: labels of shape (N,)
        - num_samples: when given and smaller than N, measure on a random subset
          of this many examples.
        - batch_size: examples scored per forward pass, to bound memory use.

        Returns:
        - acc: fraction of examples the model classifies correctly.
        """
        N = X.shape[0]
        if num_samples is not None and N > num_samples:
            mask = self.rng.choice(N, num_samples)
            X, y = X[mask], y[mask]
            N = num_samples

        predictions = [
            np.argmax(self.model.loss(X[start:start + batch_size]), axis=1)
            for start in range(0, N, batch_size)
        ]
        return np.mean(np.concatenate(predictions) == y)

    def _evaluate(self):
        """Measure train/val accuracy, record it and keep the best (finite) parameters."""
        train_acc = self.check_accuracy(self.X_train, self.y_train, num_samples=self.num_train_samples)
        val_acc = self.check_accuracy(self.X_val, self.y_val, num_samples=self.num_val_samples)
        self.train_acc_history.append(train_acc)
        self.val_acc_history.append(val_acc)

        if self.verbose:
            tqdm.write(
                f"(Epoch {self.epoch} / {self.num_epochs}) "
                f"train acc: {train_acc:f}; val_acc: {val_acc:f}"
            )
        finite = all(_all_finite(value) for value in self.model.params.values())
        if finite and (val_acc > self.best_val_acc or not self.best_params):
            self.best_val_acc = val_acc
            self.best_params = {name: value.copy() for name, value in self.model.params.items()}
            self.best_bn_params = copy.deepcopy(getattr(self.model, "bn_params", None))
        self._save_checkpoint()

    def train(self):
        """Run optimization until num_epochs epochs are done (or training diverges)."""
        num_train = self.X_train.shape[0]
        iterations_per_epoch = max(num_train // self.batch_size, 1)
        num_iterations = self.num_epochs * iterations_per_epoch

        progress = tqdm(
            total=num_iterations,
            initial=self.iteration,
            disable=not self.verbose,
            desc="Training",
            unit="it",
            mininterval=1.0,
        )
        with progress:
            while self.iteration < num_iterations:
                t = self.iteration
                problem = self._step()
                self.iteration += 1
                progress.update(1)

                if problem is not None:
                    self._report_divergence(problem, t + 1, num_iterations)
                    break
                loss = self.loss_history[-1]
                if self.verbose and t % self.print_every == 0:
                    tqdm.write(f"(Iteration {t + 1} / {num_iterations}) loss: {loss:f}")

                epoch_end = (t + 1) % iterations_per_epoch == 0
                if epoch_end:
                    self.epoch += 1
                    # A custom update rule may have no learning rate to decay.
                    for config in self.optim_configs.values():
                        if "learning_rate" in config:
                            config["learning_rate"] *= self.lr_decay

                # Evaluate once after the very first step and at every epoch end
                # (the last step always ends an epoch).
                if t == 0 or epoch_end:
                    self._evaluate()

        if self.best_params:
            self.model.params = {name: value.copy() for name, value in self.best_params.items()}
            if self.best_bn_params is not None:
                self.model.bn_params = copy.deepcopy(self.best_bn_params)

    def _report_divergence(self, problem, iteration, num_iterations):
        """Warn that training stopped because something became non-finite."""
        if self.best_params:
            kept = f"the best parameters so far (val_acc {self.best_val_acc:f})"
        else:
            kept = "its last finite parameters"
        warnings.warn(
            f"Stopping training: {problem} at iteration {iteration} / "
            f"{num_iterations} (epoch {self.epoch}). The model keeps {kept}. "
            f"Try a smaller learning rate or weight scale.",
            RuntimeWarning,
            stacklevel=3,
        )
