"""Train a Hedged Instance Embedding on N-digit MNIST; `python train.py --help`."""

from hib_tf.training.cli import main

if __name__ == "__main__":
    main()
