"""The notebook `evolviz explore RUN.db` opens: two cells that reopen the run in the panel.

Written next to the store (never over an existing notebook, which may hold a person's
work), so the run and the notebook that looks at it travel together. It names the endpoint
and the *variable* holding the API key, never the key.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["explore_notebook", "write_explore_notebook"]


def explore_notebook(store: Path, *, base_url: str | None = None, model: str | None = None,
                     api_key_env: str = "OPENAI_API_KEY") -> object:
    """The notebook, as an nbformat object."""
    import nbformat as nbf

    args = [repr(store.name)]
    if base_url:
        args.append(f"base_url={base_url!r}")
    if model:
        args.append(f"model={model!r}")
    if api_key_env != "OPENAI_API_KEY":
        args.append(f"api_key_env={api_key_env!r}")
    where = base_url or "the embedded local model"
    book = nbf.v4.new_notebook()
    book.cells = [
        nbf.v4.new_markdown_cell(
            f"# {store.name}\n\nThis run reopened from its store: its seeds, settings, "
            f"templates and operator plan come from `{store.name}`. **Step** continues it "
            f"exactly as `evolviz run` would, on {where}. Maps use "
            f"`$EVOLVIZ_REFERENCE_DIR` when it is set."),
        nbf.v4.new_code_cell("from evolviz import Explorer\n\n"
                             f"ex = Explorer.open({', '.join(args)})\nex"),
        nbf.v4.new_code_cell("print(ex.store.generation_stats())"),
    ]
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                   "language": "python"}
    return book


def write_explore_notebook(store: str | Path, **endpoint: str | None) -> Path:
    """Write `<store>.explore.ipynb` beside the store unless it exists; return its path."""
    import nbformat as nbf

    store = Path(store).resolve()
    path = store.with_name(store.stem + ".explore.ipynb")
    if not path.exists():
        nbf.write(explore_notebook(store, **endpoint), path)  # type: ignore[arg-type]
    return path
