"""`model.fit` for every tf.distribute strategy, MultiWorkerMirroredStrategy included.

Keras 3.15's `model.fit` fails under MultiWorkerMirroredStrategy (keras-team/keras#20585, open):
before training it reduces a distributed input batch with `strategy.reduce`, which a
multi-worker strategy cannot do for a tuple, and it averages scalar step logs with
`strategy.reduce("MEAN", value, axis=0)`, which fails for scalars. This loop does what `fit`
does for our model, with public APIs only: it runs the model's `train_step` on every replica
with `strategy.run`, averages the logs over replicas with `strategy.reduce(..., axis=None)`, and
calls Keras callbacks (`keras.callbacks.CallbackList`) as `fit` would, one epoch per `log_every`
steps. The same code runs on one device, so every strategy takes the same path.
"""

import keras
import tensorflow as tf


def fit(model, strategy, batches, *, initial_epoch, epochs, steps_per_epoch, callbacks, verbose):
    """Trains `model` on `batches` from `initial_epoch` to `epochs`, like `model.fit`.

    Args:
      model: compiled keras.Model whose variables were created under `strategy.scope()`.
      strategy: the tf.distribute strategy.
      batches: endless dataset of training batches, distributed over the replicas
        (`strategy.distribute_datasets_from_function`).
      initial_epoch: first epoch to run (a resumed run starts after its checkpoint).
      epochs: epoch to stop before.
      steps_per_epoch: training steps per epoch.
      callbacks: keras.callbacks.Callback list; `model.stop_training = True` stops training at
        the end of the step, as with `fit`.
      verbose: 0: silent, 1: progress bar, 2: one line per epoch.

    Returns:
      keras.callbacks.History of the epochs run, as `fit` returns.
    """
    history = keras.callbacks.History()
    callback_list = keras.callbacks.CallbackList(
        [*callbacks, history],
        add_progbar=verbose != 0,
        model=model,
        verbose=verbose,
        epochs=epochs,
        steps=steps_per_epoch,
    )

    @tf.function(jit_compile=model.jit_compile, reduce_retracing=True)
    def train_step(iterator):
        logs = strategy.run(model.train_step, args=(next(iterator),))
        return {name: strategy.reduce("MEAN", value, axis=None) for name, value in logs.items()}

    iterator = iter(batches)
    model.stop_training = False
    logs = {}
    callback_list.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        model.reset_metrics()
        callback_list.on_epoch_begin(epoch)
        for step in range(steps_per_epoch):
            callback_list.on_train_batch_begin(step)
            logs = train_step(iterator)
            callback_list.on_train_batch_end(step, logs)
            if model.stop_training:
                break
        callback_list.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    callback_list.on_train_end(logs)
    return history
