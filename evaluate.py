"""Evaluate an exported Hedged Instance Embedding on N-digit MNIST; `python evaluate.py --help`."""

from hib_tf.evaluation.cli import main

if __name__ == "__main__":
    main()
