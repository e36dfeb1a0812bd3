"""Sentence embeddings (`encoder`, with its disk cache) and the diversity numbers computed
from them (`diversity`). The dataset gates and the maps both use it."""
