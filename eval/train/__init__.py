"""Training the reader: data from ``../shared/train/``, the recipe, run by hand, never in CI.

``python -m eval.train.data`` builds the question/sentence pairs, ``python -m
eval.train.reader`` trains (checkpointed, so that it can span sessions), and
``python -m eval.train.calibrate`` fits the abstain decision on articles held apart.
See ``retriever/models/READER.md`` for the card of the weights this made.
"""
