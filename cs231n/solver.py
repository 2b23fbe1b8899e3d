"""Training loop for classification models: minibatch SGD-style optimization."""
import copy
import os
import pickle
import warnings

import numpy as np
from .progress import tqdm

from . import optim


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
    (model, per-parameter optimizer state, histories, best parameters, the
    minibatch sampler's random state, NumPy's global random state and the
    iteration counter) is written after every evaluation to
    "{checkpoint_name}_epoch_{epoch}.pkl". Each file is written to a temporary file
    first and then renamed into place, so a crash mid-write never leaves a truncated
    checkpoint under the final name. ``Solver.load_checkpoint(path, data)`` rebuilds a
    solver from such a file; calling train() on it continues exactly where the saved
    run stopped (pass num_epochs=... to train for longer than originally planned).
    Loading a checkpoint also restores NumPy's global random state (np.random), since
    layers such as dropout without a seed draw from it.

    Training stops early, with a RuntimeWarning naming the iteration, when the loss
    becomes NaN or infinite; the model then keeps the best parameters seen so far
    (or, before any evaluation, the last finite parameters).
    """

    def __init__(self, model, data, **kwargs):
        """Create a solver.

        Required arguments:
        - model: a model object as described in the class docstring.
        - data: dict with "X_train", "y_train", "X_val" and "y_val" arrays.

        Optional arguments:
        - update_rule: name of a rule in cs231n/optim.py, or a callable with the
          same (w, dw, config) -> (next_w, config) interface. Default "sgd".
        - optim_config: dict of hyperparameters for the update rule; every
          parameter gets its own copy. Default {}.
        - lr_decay: factor applied to the learning rate after each epoch. Default 1.0.
        - batch_size: minibatch size. Default 100.
        - num_epochs: number of epochs to train for. Default 10.
        - num_train_samples: training examples used to measure training accuracy;
          None uses all of them. Default 1000.
        - num_val_samples: validation examples used to measure validation accuracy;
          None uses all of them. Default None.
        - checkpoint_name: file name prefix for checkpoints; None saves none. The
          update rule is saved with them, so it must be picklable: a rule name or
          a function defined at module level, not a lambda or nested function.
        - print_every: print the training loss every this many iterations. Default 10.
        - verbose: print progress and show a progress bar. Default True.
        """
        self.model = model
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
        if len(self.X_train) != len(self.y_train) or len(self.X_val) != len(self.y_val):
            raise ValueError(
                f"data sizes disagree: X_train {len(self.X_train)} vs y_train "
                f"{len(self.y_train)}, X_val {len(self.X_val)} vs y_val {len(self.y_val)}"
            )
        if isinstance(self.update_rule, str):
            if not hasattr(optim, self.update_rule):
                raise ValueError(f'Invalid update_rule "{self.update_rule}"')
            self.update_rule = getattr(optim, self.update_rule)
        elif not callable(self.update_rule):
            raise ValueError(f"update_rule must be a name or a callable, got {self.update_rule!r}")
        if self.checkpoint_name is not None:
            self._check_update_rule_picklable()

        self._reset()

    def _check_update_rule_picklable(self):
        """Fail now rather than at the first checkpoint, mid-training."""
        try:
            pickle.dumps(self.update_rule)
        except (pickle.PicklingError, AttributeError, TypeError) as error:
            raise ValueError(
                f"checkpoint_name is set but update_rule {self.update_rule!r} cannot be "
                f"pickled into a checkpoint ({error}); pass a rule name such as \"adam\" "
                f"or a function defined at module level instead of a lambda or nested "
                f"function"
            ) from error

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

        The update is skipped when the loss is not finite, so that a diverging step
        does not write NaNs into the parameters.
        """
        num_train = self.X_train.shape[0]
        batch_mask = self.rng.choice(num_train, self.batch_size)
        X_batch = self.X_train[batch_mask]
        y_batch = self.y_train[batch_mask]

        loss, grads = self.model.loss(X_batch, y_batch)
        self.loss_history.append(loss)
        if not np.isfinite(loss):
            return

        for name, w in self.model.params.items():
            next_w, next_config = self.update_rule(w, grads[name], self.optim_configs[name])
            self.model.params[name] = next_w
            self.optim_configs[name] = next_config

    def _checkpoint_state(self):
        """Everything needed to continue training exactly, as a picklable dict."""
        return {
            "model": self.model,
            "update_rule": self.update_rule,
            "lr_decay": self.lr_decay,
            "optim_config": self.optim_config,
            "batch_size": self.batch_size,
            "num_epochs": self.num_epochs,
            "num_train_samples": self.num_train_samples,
            "num_val_samples": self.num_val_samples,
            "epoch": self.epoch,
            "iteration": self.iteration,
            "loss_history": self.loss_history,
            "train_acc_history": self.train_acc_history,
            "val_acc_history": self.val_acc_history,
            "best_val_acc": self.best_val_acc,
            "best_params": self.best_params,
            "best_bn_params": self.best_bn_params,
            "optim_configs": self.optim_configs,
            "rng_state": self.rng.get_state(),
            # Dropout without a seed draws its masks from the global generator.
            "numpy_global_state": np.random.get_state(),
        }

    def _save_checkpoint(self):
        """Write the training state to disk atomically; returns the path or None."""
        if self.checkpoint_name is None:
            return None
        filename = f"{self.checkpoint_name}_epoch_{self.epoch}.pkl"
        if self.verbose:
            tqdm.write(f'Saving checkpoint to "{filename}"')
        # A plain open() next to the target (not mkstemp, which creates mode 0600)
        # gives the checkpoint the permissions of any other file the user writes.
        temp_path = f"{filename}.tmp"
        try:
            with open(temp_path, "wb") as f:
                pickle.dump(self._checkpoint_state(), f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temp_path, filename)
        except BaseException:
            if os.path.exists(temp_path):
                os.remove(temp_path)
            raise
        return filename

    @classmethod
    def load_checkpoint(cls, path, data, **kwargs):
        """Rebuild a solver from a checkpoint file written during training.

        Inputs:
        - path: a checkpoint written by a solver with checkpoint_name set.
        - data: the same data dict the original solver trained on.
        - kwargs: options to change for the continued run (num_epochs, verbose,
          print_every, checkpoint_name).

        Returns a Solver whose model (solver.model) and state are those of the
        checkpoint; its train() continues from the saved iteration. NumPy's global
        random state (np.random) is set to the one saved in the checkpoint.
        """
        with open(path, "rb") as f:
            state = pickle.load(f)
        options = {
            "update_rule": state["update_rule"],
            "optim_config": state["optim_config"],
            "lr_decay": state["lr_decay"],
            "batch_size": state["batch_size"],
            "num_epochs": state["num_epochs"],
            "num_train_samples": state["num_train_samples"],
            "num_val_samples": state["num_val_samples"],
        }
        options.update(kwargs)
        solver = cls(state["model"], data, **options)
        for name in (
            "epoch", "iteration", "loss_history", "train_acc_history", "val_acc_history",
            "best_val_acc", "best_params", "best_bn_params", "optim_configs",
        ):
            setattr(solver, name, state[name])
        solver.rng.set_state(state["rng_state"])
        # After constructing the solver, whose _reset() draws from the global state.
        np.random.set_state(state["numpy_global_state"])
        return solver

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
        """Measure train/val accuracy, record it and keep the best parameters."""
        train_acc = self.check_accuracy(self.X_train, self.y_train, num_samples=self.num_train_samples)
        val_acc = self.check_accuracy(self.X_val, self.y_val, num_samples=self.num_val_samples)
        self.train_acc_history.append(train_acc)
        self.val_acc_history.append(val_acc)

        if self.verbose:
            tqdm.write(
                f"(Epoch {self.epoch} / {self.num_epochs}) "
                f"train acc: {train_acc:f}; val_acc: {val_acc:f}"
            )
        if val_acc > self.best_val_acc or not self.best_params:
            self.best_val_acc = val_acc
            self.best_params = {name: value.copy() for name, value in self.model.params.items()}
            self.best_bn_params = copy.deepcopy(getattr(self.model, "bn_params", None))
        self._save_checkpoint()

    def train(self):
        """Run optimization until num_epochs epochs are done (or the loss diverges)."""
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
                self._step()
                self.iteration += 1
                progress.update(1)
                loss = self.loss_history[-1]

                if not np.isfinite(loss):
                    self._report_divergence(loss, t + 1, num_iterations)
                    break
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

    def _report_divergence(self, loss, iteration, num_iterations):
        """Warn that training stopped because the loss is no longer finite."""
        if self.best_params:
            kept = f"the best parameters so far (val_acc {self.best_val_acc:f})"
        else:
            kept = "its last finite parameters"
        warnings.warn(
            f"Stopping training: the loss became {loss} at iteration {iteration} / "
            f"{num_iterations} (epoch {self.epoch}). The model keeps {kept}. "
            f"Try a smaller learning rate or weight scale.",
            RuntimeWarning,
            stacklevel=3,
        )
