"""Context size, stop strings and per-role sampling tuned for SmolLM2-135M on two cores.

They live apart from the server code because the CLI and the panel pick them as a
sampling preset for a run, whether or not this process starts the server.
"""

from __future__ import annotations

from ..calls import Sampling

__all__ = ["LOCAL_N_CTX", "LOCAL_SAMPLING", "LOCAL_STOP"]

LOCAL_N_CTX = 2048
"""Context window requested from the server.

Evol-Instruct prompts are short (an operator template plus one instruction is about
200-500 tokens) and answers are capped below, so 2,048 leaves room to spare while keeping
the KV cache small (SmolLM2 was trained to 8,192, which would only cost memory here).
"""

LOCAL_STOP: tuple[str, ...] = ("<|im_end|>", "<|im_start|>")
"""ChatML markers as stop strings. The GGUF's own chat template already ends a turn at
``<|im_end|>`` (the server reads it as the EOS token); the strings are a second fence for a
small model that sometimes writes the next turn's header itself."""

LOCAL_SAMPLING: dict[str, Sampling] = {
    "evolver": Sampling(temperature=0.7, max_tokens=160, stop=LOCAL_STOP, repeat_penalty=1.05),
    "answerer": Sampling(temperature=0.7, max_tokens=256, stop=LOCAL_STOP),
    "judge": Sampling(temperature=0.0, max_tokens=32, stop=LOCAL_STOP),
}
"""Per-role sampling that suits a 135M model on two CPU cores (about 100 tokens/s).

- evolver 0.7 / 160, repeat penalty 1.05: a few-shot rewrite is the parent plus a few words
  (stopped by the template's "###"), so a few dozen tokens; 160 leaves room for a rewrite
  with a small table or code. The server's repeat penalty (1.1, which keeps answers from
  looping) is eased for rewrites, which must repeat their parent's words: at 1.1 the model
  drifted to other topics, at 1.0 it copied the parent unchanged; 1.05 gave the most
  accepted rewrites on the tuning seeds (docs/local_model.md).
- answerer 0.7 / 256: long enough for rules 2-3 (which look at length and content) to see
  a real answer, short enough that one candidate costs seconds, not tens of seconds.
- judge 0.0 / 32: a judge answers in a word or a number; greedy decoding makes that reply
  repeatable. The few-shot judge stops at the end of its line; the chat judge's JSON
  under the grammar (``{"task": true, "verdict": "different"}`` with the indentation the
  grammar allows) runs to about 20 tokens, which 16 cut mid-string.
"""
