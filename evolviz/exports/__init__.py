"""Writing the dataset: flat formats (`flat`: Alpaca, ShareGPT, JSONL, Parquet) and the
Hugging Face folder (`hf`) with its dataset card (`card`).

`export` and `to_dataframe` load pandas when called, not when this package is imported.
"""
