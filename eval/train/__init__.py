"""Training the reader: data from ``../shared/train/``, the recipe, run by hand, never in CI.

``python -m eval.train.data`` builds the question/sentence pairs, ``python -m
eval.train.reader`` trains (checkpointed, so that it can span sessions), and
``python -m eval.train.calibrate`` tunes the reader's weight in the quote on articles held apart.
The weights it made, with their card: ``retriever/weights/<name>/``.
"""
