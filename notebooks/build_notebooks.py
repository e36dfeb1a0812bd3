"""Writes the notebooks in this folder from plain Python, so their source is reviewable.

Run `python notebooks/build_notebooks.py` after editing; CI executes the results.
"""

from pathlib import Path

import nbformat as nbf

HERE = Path(__file__).parent

SETUP = '''import os
from pathlib import Path

# Reference data (Alpaca and ShareGPT samples): $EVOLVIZ_REFERENCE_DIR, or the shared copy
# beside the project. With none, the panel still works and says that no map is loaded.
REFERENCES = os.environ.get("EVOLVIZ_REFERENCE_DIR") or str(
    Path.cwd().resolve().parents[1] / "shared" / "refdata")
SEEDS = Path.cwd().resolve().parent / "seeds"
'''


def nb(cells):
    book = nbf.v4.new_notebook()
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                   "language": "python"}
    book.cells = [nbf.v4.new_markdown_cell(c[1]) if c[0] == "md" else nbf.v4.new_code_cell(c[1])
                  for c in cells]
    return book


explore = nb([
    ("md", "# evolviz explorer\n\nEvol-Instruct, one generation at a time. With no endpoint "
           "configured this runs on the embedded local model (SmolLM2-135M-Instruct): no key, "
           "no network. A model that small cannot follow a long editing instruction, so it "
           "gets the **few-shot** templates (worked examples it continues), and rule 1 and "
           "`not_a_task` are decided by checks that need no model (they measure better than "
           "its own judge: docs/local_model.md). Press **Step** to evolve a generation; click "
           "a candidate to see the exact prompt sent, the raw response, the answer and each "
           "rule's verdict."),
    ("code", SETUP),
    ("code", "from evolviz import Explorer, RunConfig\n"
             "from evolviz.local_model import LOCAL_SAMPLING\n\n"
             "# The local model's settings, with the difficulty judge on for the chart (one "
             "short call per accepted instruction).\n"
             "config = RunConfig(sampling=dict(LOCAL_SAMPLING), judge='check', "
             "judge_difficulty=True)\n"
             "# store=None keeps the run in a temporary file; pass store='runs/my.db' to keep "
             "it and resume later.\n"
             "ex = Explorer(SEEDS / 'tiny.txt', references=REFERENCES, reference_sample=500, "
             "config=config)\n"
             "ex"),
    ("md", "The map loads in the background (the first time it embeds the references, later "
           "it comes from a cache). The next cell waits for it and evolves three generations, "
           "so that running the notebook top to bottom shows a population that has moved: "
           "parents replaced by their accepted children, and the charts below the map filled."),
    ("code", "await ex.wait_for_map()\n"
             "for _ in range(3):\n"
             "    await ex.step()\n"
             "for stats in ex.store.generation_stats():\n"
             "    print(stats)"),
    ("md", "What moved: how many pool members are evolved instructions now, and the mean "
           "difficulty the judge gave each generation (0 = the seeds)."),
    ("code", "from evolviz.store import RunView\n\n"
             "pool = ex.store.pool(4) or []\n"
             "print(f'{sum(m.generation > 0 for m in pool)} of {len(pool)} pool members are "
             "evolved')\n"
             "print('mean difficulty by generation:', RunView(ex.store).chart_series()"
             "['difficulty'])"),
])

teaching = nb([
    ("md", "# Evol-Instruct, explained on live examples\n\nThe WizardLM paper grows an "
           "instruction set by asking an LLM to rewrite each instruction into a harder one "
           "(**in-depth** evolving, five ways) or into a new one in the same domain "
           "(**in-breadth** evolving, one way), answering it, and eliminating the failures. "
           "This notebook shows each piece on a small local model."),
    ("code", SETUP),
    ("md", "## The six operators\n\nEach is a template file. The paper's operators are "
           "editing instructions for a capable chat model (the **chat** templates). A 135M "
           "model cannot follow those, but it can continue a pattern, so evolviz also ships "
           "**few-shot** templates: a short frame, four worked examples written by the team, "
           "and the task left open for the model to complete. Here is what each operator "
           "does, and the exact text the small model is asked to continue."),
    ("code", "from evolviz import TemplateSet\n\n"
             "templates = TemplateSet.load(style='few_shot')\n"
             "for name, t in templates.operators.items():\n"
             "    print(f'{name:20} {t.kind:8} {t.description}')"),
    ("code", "prompt = templates.operators['add_constraints'].render(\n"
             "    instruction='Explain why the sky is blue.')\n"
             "print(prompt[-1]['content'])"),
    ("md", "## The elimination rules\n\nA candidate fails if (1) it adds no information over "
           "its parent, (2) its answer says 'sorry' and is short, (3) its answer is only "
           "punctuation and stop words, or (4) it copies the evolving prompt's own markers. "
           "Before any of them, the rewrite stage takes the instruction out of the evolver's "
           "reply (dropping preambles like 'Sure! Here is a harder version:', labels like "
           "'**Rewritten Prompt:**', JSON around it and trailing notes) and rejects one that "
           "cannot be used (`rewrite_invalid`). Rules 2-4 are plain functions, and every "
           "verdict carries its evidence in `detail`:"),
    ("code", "from evolviz.rules import copied_prompt_wording, sorry_short_answer, "
             "stopwords_only_answer\n\n"
             "print(sorry_short_answer(\"Sorry, I can't help with that.\"))\n"
             "print(stopwords_only_answer('It is what it is.'))\n"
             "print(stopwords_only_answer('。。。'))  # punctuation in any script\n"
             "print(copied_prompt_wording('#Harder Task# Explain why the sky is blue.',\n"
             "                            markers=['#Harder Task#']))"),
    ("md", "### Rules beyond the paper, and how to switch them off\n\nReal model output "
           "fails in ways the paper's wording misses, so evolviz adds rules of its own, each "
           "with its own name in the results. When a verdict cannot be established the "
           "candidate is rejected with the reason: the parent is evolved again next "
           "generation, so a wrong rejection costs one call, while a wrong acceptance would "
           "stay in the dataset.\n\n"
           "- `not_a_task`: the rewrite is no task at all (the model talks to the user, "
           "describes its editing, asks a question back, or answers the parent).\n"
           "- `off_topic`: an in-depth rewrite that left its parent's topic.\n"
           "- `answer_echo`: the answer repeats the instruction instead of answering.\n"
           "- `answer_refusal`: a short answer that refuses without the word 'sorry', asks "
           "for input, or gives none ('N/A').\n"
           "- `answer_truncated`, `answer_filtered`: cut off at max tokens, or filtered.\n"
           "- `judge_unclear`: the judge stated no verdict, even asked again.\n\n"
           "`RuleConfig.paper()` (the CLI's `--paper-rules`) runs the paper's rules only, to "
           "reproduce it exactly; `RuleConfig().without([...])` (`--no-rule NAME`) switches "
           "single rules off:"),
    ("code", "from evolviz.rules import BEYOND_PAPER, RuleConfig, answer_refusal, task_verdict\n\n"
             "print('beyond the paper:', BEYOND_PAPER)\n"
             "print(answer_refusal('As an AI language model, I cannot provide that.'))\n"
             "print(task_verdict(\"I'm ready to help! What kind of poem would you like?\"))\n"
             "print(task_verdict('Write a poem about rain in exactly four lines.'))\n"
             "print('paper rules only:', RuleConfig.paper().enabled)"),
    ("md", "## Three generations, live\n\nThe panel below evolves the seeds three times. A "
           "small model fails often, which is exactly what the rules are for: look for red "
           "cards, and open one to see which rule rejected it and why."),
    ("code", "from evolviz import Explorer\n\n"
             "ex = Explorer(SEEDS / 'tiny.txt', references=REFERENCES, reference_sample=300)\n"
             "ex"),
    ("code", "from evolviz.textsafe import inert  # model text may hold terminal escapes\n\n"
             "for _ in range(3):\n"
             "    await ex.step()\n"
             "for c in ex.store.candidates(generation=1):\n"
             "    verdict = c.rejection.reason if c.rejection else (c.error_class or 'kept')\n"
             "    print(f'{c.operator:20} {c.status:9} {inert(verdict)}')"),
    ("code", "from evolviz.run.whatif import what_if\n"
             "from evolviz.config import RunConfig\n\n"
             "paper_only = RunConfig(rules=RuleConfig.paper(), judge='check')\n"
             "for g in what_if(ex.store, paper_only, ex.templates).per_generation:\n"
             "    print(g)  # accepted before/after if the paper's rules alone had judged"),
    ("md", "Accepted candidates replace their parents in the pool; a rejected or failed one "
           "leaves its parent in the pool, to be evolved again next generation. After three "
           "generations:"),
    ("code", "pool = ex.store.pool(4) or []\n"
             "for member in pool:\n"
             "    label = f'gen {member.generation}' if member.generation else 'seed '\n"
             "    print(label, inert(member.text[:80]))"),
])

debugging = nb([
    ("md", "# Debugging a prompt template by hand\n\nBefore paying for a large run: edit a "
           "template, preview it filled in, re-run one candidate with it and compare, then "
           "save it. The panel's **Templates** tab does the same interactively."),
    ("code", SETUP),
    ("code", "from evolviz import Explorer\n\n"
             "from evolviz.textsafe import inert  # model text may hold terminal escapes\n\n"
             "ex = Explorer(SEEDS / 'tiny.txt', references=None, maps=False)\n"
             "await ex.step()\n"
             "first = next(ex.store.candidates(generation=1))\n"
             "print(first.operator, first.status, first.rejected_by)\n"
             "print(inert(first.calls['rewrite'].content))"),
    ("md", "Edit the operator's template: here we make the instruction to the model "
           "stricter. A typo in a placeholder is caught at once:"),
    ("code", "from evolviz.errors import TemplateError\n"
             "from evolviz.templates import parse_template\n\n"
             "t = ex.templates.operators[first.operator]\n"
             "fields = dict(name=t.name, role=t.role, kind=t.kind, placeholders=list(t.placeholders),\n"
             "              markers=list(t.markers), system=t.system,\n"
             "              user=t.user.replace('{{instruction}}', '{{instrution}}'))\n"
             "try:\n"
             "    parse_template(fields, path='edited')\n"
             "except TemplateError as e:\n"
             "    print('caught:', e)"),
    ("code", "fields['user'] = t.user + '\\nReply with the new task only, in one paragraph.'\n"
             "edited = parse_template(fields, path='edited')\n"
             "print(edited.render(instruction=first.parent_instruction)[-1]['content'][-300:])"),
    ("code", "from evolviz import evolve_candidate\n"
             "from evolviz.records import PoolMember\n\n"
             "parent = PoolMember(first.parent_id, first.seed_id, 0, first.parent_instruction)\n"
             "again = await evolve_candidate(parent, first.operator, generation=1, slot=first.slot,\n"
             "                               client=ex.client, templates=ex.templates.replace(edited),\n"
             "                               config=ex.config)\n"
             "for label, c in (('before', first), ('after', again)):\n"
             "    print(f'--- {label}: {c.status} {c.rejected_by or \"\"}')\n"
             "    print(inert(c.instruction))"),
    ("md", "Rules 2-4 can be re-applied to the whole run with other thresholds, with no LLM "
           "call:"),
    ("code", "from dataclasses import replace\n"
             "from evolviz import RuleConfig\n"
             "from evolviz.run.whatif import what_if\n\n"
             "stricter = replace(ex.config, rules=RuleConfig(sorry_max_words=400, copied_ngram=4))\n"
             "print(what_if(ex.store, stricter, ex.templates).to_dict()['per_generation'])"),
    ("code", "import tempfile\n"
             "out = Path(tempfile.mkdtemp()) / f'{edited.name}.toml'\n"
             "out.write_text(edited.to_toml())\n"
             "print('saved', out, '- use it with: evolviz run ... --templates', out.parent)"),
    ("md", "## Compare: is the edit better, or is it noise?\n\nRun the same seeds with the "
           "saved template. Same seeds and the same `--seed` make the comparison paired, "
           "candidate by candidate; every rate gets a 95% interval and only differences that "
           "survive a Holm correction are flagged (`evolviz compare A.db B.db` does the same)."),
    ("code", "from evolviz.workbench.compare import compare_stores, render_comparison\n"
             "from evolviz.store import RunStore\n\n"
             "ex_b = Explorer(SEEDS / 'tiny.txt', references=None, maps=False,\n"
             "                templates=out.parent)\n"
             "await ex_b.step()\n"
             "with RunStore(ex.store_path, readonly=True) as a, \\\n"
             "        RunStore(ex_b.store_path, readonly=True) as b:\n"
             "    report = compare_stores(a, b)\n"
             "print(render_comparison(report))"),
    ("md", "Ten seeds rarely make anything significant; that is the point of the intervals.\n\n"
           "## Estimate: what will the full run cost?\n\nProject from the candidates just "
           "made (as `evolviz estimate SEEDS --generations N --from-store DB`; without "
           "`--from-store` it runs a 20-seed pilot first). Prices are yours, per million tokens."),
    ("code", "from evolviz.workbench.estimate import PilotRow, project, render_estimate\n\n"
             "rows = [PilotRow.of(c) for c in ex_b.store.candidates(generation=1)]\n"
             "print(render_estimate(project(rows, seeds=52_000, generations=4, concurrency=32,\n"
             "                              prices=(0.15, 0.60))))"),
    ("md", "A budget stops the real run cleanly before it passes a limit, and the same command "
           "with a larger budget resumes it:\n\n"
           "    evolviz run seeds.jsonl --store big.db --generations 4 --max-cost 5 "
           "--price-in 0.15 --price-out 0.60 ...\n\n"
           "## Optimize: let the LLM propose a revision\n\nThe evolver reads the template and "
           "a sample of its failed candidates with their verdicts and proposes a revision; it "
           "is kept only if it passes the placeholder contract and fails significantly less "
           "on a dev slice of seeds (paired McNemar). Slow on the local model:\n\n"
           "    evolviz optimize seeds.jsonl --operator mutation --store opt.db --steps 3 "
           "--dev 30 --out revised/\n\n"
           "then compare a run with `--templates revised/` against the current one, as above.\n\n"
           "The panel does the same from the **Templates** tab (*Suggest a revision*), starting "
           "from the template as edited there and showing each step's diff and numbers as it "
           "is recorded; a kept revision is loaded into the editor, not applied. From code, on "
           "a small dev slice so that it stays quick on the local model (a 135M model rarely "
           "writes a usable template: such a step is recorded as invalid, with why):"),
    ("code", "from evolviz.workbench.optimize import render_steps\n\n"
             "steps = await ex.suggest_revision(first.operator, steps=1, dev=4)\n"
             "print(render_steps(steps))\n"
             "print('every call is in', ex.widget.revision['store'])"),
])

paper = nb([
    ("md", "# The paper's picture, as numbers too\n\nAlpaca vs ShareGPT vs each evolved "
           "generation: t-SNE coloured by source and by k-means cluster, plus diversity "
           "metrics per source (coverage, entropy, mean pairwise distance, novelty, Vendi)."),
    ("code", SETUP),
    ("code", "from evolviz import Explorer\n\n"
             "ex = Explorer(SEEDS / 'tiny.txt', references=REFERENCES, maps=False)\n"
             "await ex.run(2)\n"
             "print([s.to_dict() for s in ex.store.generation_stats()])"),
    ("code", "from evolviz.embeddings.encoder import Encoder\n"
             "from evolviz.maps import ReferenceMap, metrics_by_generation, paper_figure, run_map\n"
             "from evolviz.maps.references import find_references\n\n"
             "refs = find_references(REFERENCES, sample=500)\n"
             "refmap = ReferenceMap.fit(refs, Encoder(), seeds=[s.text for s in ex.seeds], k=20)\n"
             "df = run_map(ex.store, refmap)\n"
             "metrics_by_generation(df, refmap)"),
    ("code", "fig = paper_figure(df, title='Alpaca vs ShareGPT vs evolved (local model)')\n"
             "fig.write_html(Path(ex.store_path).with_suffix('.html'))\n"
             "fig"),
])

for name, book in [("explore", explore), ("teaching", teaching),
                   ("template_debugging", debugging), ("paper_figure", paper)]:
    nbf.write(book, HERE / f"{name}.ipynb")
    print("wrote", name)
