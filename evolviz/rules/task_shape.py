"""Is a rewrite a task at all? The check that needs no model.

An evolver that cannot do the rewrite rarely says so: it talks to the user ("I'm ready to
help! What kind of game are you working on?"), describes the editing ("To make this task
harder, I added..."), or answers the parent instead of rewriting it (the finished poem, a
function, a fact paragraph). Each of those reads fine to every other rule and joins the
dataset as an "instruction". A capable judge says whether a rewrite is a task in the same
structured call that decides rule 1; this check decides where no such judge answers (a
judge that replies in prose, a completion-style judge, the small local model).

It is built on the asymmetry of the two errors: a rewrite rejected here costs one call
(the parent is evolved again next generation), one accepted wrongly pollutes the dataset.
So it accepts only what shows the shape of a request (an imperative, a question, "can
you ...", "your task is ..." in the languages below) and no sign of talking about the
task; what it cannot establish is rejected with the reason. Languages with a request
lexicon: English, Spanish, German, French, Portuguese, Italian, Russian, Chinese,
Japanese, Arabic, Hindi; a question mark counts in any script.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .ids import RuleId
from .self_contained import problem
from .verdict import Verdict

__all__ = ["TaskShape", "reads_as_request", "task_shape", "task_verdict"]

_I = re.IGNORECASE

# -- talking to the user instead of writing a task ----------------------------------------
_CHATTER = re.compile(
    r"^\W*(?:"
    r"sure|certainly|of course|okay|ok|great|absolutely|alright|all right|got it|"
    r"no problem|happy to help|glad to help|hello|hi|hey|thanks?|thank you|"
    r"what a|wow|great question|good question|excellent|perfect|understood|"
    r"i'?m (?:ready|glad|happy|here to|so glad|sorry|excited|delighted|pleased|not sure|"
    r"going to (?:make|rewrite|add|help))|"
    r"i am (?:ready|glad|happy|here to|sorry|excited|delighted|pleased|not sure)|"
    r"i'?d (?:love|be happy|be glad|like to help|suggest)|"
    r"i(?:'ll| will| can| would) (?:help|assist|make|create|rewrite|write you|provide|"
    r"do (?:my best|that|this)|try|gladly|be (?:happy|glad))\b|"
    r"i(?:'ve| have)? (?:added|made|changed|rewritten|rewrote|revised|created|included|kept|"
    r"replaced|modified|tried|provided|chosen)\b|"
    r"i (?:hope|understand|see|believe|think) (?:this|that|you|it|the)\b|"
    r"i apologi[sz]e|"
    r"here'?s|here is|here are|here you go|below is|below are|the following|"
    r"you'?re (?:right|welcome|correct)|you'?ve|you have (?:provided|given|asked)|"
    r"your (?:task|request|question|new task|original)|"
    r"as an? (?:ai|ai assistant|ai language model|language model|assistant)\s*,|"
    r"let'?s|let me|in this (?:task|version|rewrite)|this (?:is|was) (?:a|an|the)\b"
    r")(?!\w)", _I)
_CHATTER_OTHER = re.compile(
    r"^\W*(?:claro|por supuesto|aquí (?:tienes|está)|natürlich|gerne|hier ist|bien sûr|"
    r"voici|конечно|вот|хорошо|当然|好的|以下是|这是|もちろん|はい|以下は|承知しました)", _I)

# -- describing the editing instead of doing it --------------------------------------------
# "the original task" followed by a noun is a compound ("the original task owner").
_NOT_A_NOUN_NEXT = (r"(?!\s+(?!(?:is|was|to|and|with|by|asks?|asked|required?s?|says?|said|"
                    r"into|as|of|that|which|in|for|adds?|has|had|can|will|would|should|"
                    r"must|but|or|so|from|while|more|now|becomes?|became)\b)[a-z])")
_EDITING = re.compile(
    r"\b(?:the|this|that|my|your) (?:original|rewritten|revised|modified|updated|"
    r"evolved|new|harder) (?:task|prompt|instruction|version|request)s?\b" + _NOT_A_NOUN_NEXT +
    r"|^\W*(?:a |the )?(?:harder|rewritten|more (?:difficult|complex|challenging)) "
    r"(?:task|prompt|instruction|version)s?\b|"
    # "To make this harder, I..." opens a sentence; "Rewrite it to make it more formal" is
    # a task of its own.
    r"(?:^|[.!?]\s+)to make (?:this|the|it|your)(?: task| prompt)? (?:harder|more|even|"
    r"a bit)|"
    r"\bthis (?:task|version|prompt|rewrite) (?:now )?(?:requires|asks|adds|is|has|makes|"
    r"includes)\b|"
    r"\b(?:i|we) (?:have |'ve )?(?:added|made|changed|rewrote|revised|modified|kept|"
    r"replaced|introduced)\b|"
    # The paper's "add 10 to 20 words", not a task's "add 100 words of detail".
    r"\b(?:add|adding) (?:no more than )?\d+ to \d+ (?:extra )?words\b|"
    r"\badding (?:no more than )?\d+ (?:extra )?words\b|"
    r"\brewrite (?:this|the|your) (?:task|prompt|instruction)\b", _I)

# -- asking the user something back ------------------------------------------------------
_QUESTION_BACK = re.compile(
    r"\b(?:what|which) (?:kind|type|sort|topic|task|details?)s? (?:of \w+ )?"
    r"(?:are you (?:working|looking|thinking|planning|interested|asking|referring)|"
    r"do you (?:want|need|have|mean|like|prefer)|would you like|did you|should i)\b|"
    r"\b(?:do|would) you (?:want|like) (?:me|to know|help)\b|"
    # "Can you provide a recipe..." is a request; "can you provide more details" asks back.
    r"\b(?:could|can) you (?:please )?(?:provide|share|specify|give me) (?:me )?"
    r"(?:more |some |additional |further |any )?(?:details|information|context|"
    r"clarification)|"
    r"\bcould you (?:please )?(?:clarify|tell me|explain what)|"
    r"\bcan you (?:please )?(?:clarify|tell me (?:more|what))|"
    r"\bplease (?:provide|share|specify|clarify|tell me|give me|let me know|describe your)|"
    r"\blet me know\b|\bwhat is it (?:that )?you\b|\bwhat do you (?:mean|want|need)\b|"
    r"\bhow (?:can|may) i (?:help|assist)\b|\bwhat would you like\b|"
    r"\bno (?:description|details?|information|task) (?:yet|was|has been|provided)\b|"
    r"\bprovide (?:more )?details about your\b", _I)

# -- the shapes of a request --------------------------------------------------------------
# Verbs that open a request. Verbs that as often open an answer's steps ("use", "add",
# "keep", "boil") are left out: a recipe is written in the imperative too.
_VERBS = (
    "write|explain|describe|list|give|create|make|compose|draft|summari[sz]e|translate|"
    "calculate|compute|find|determine|identify|name|suggest|recommend|compare|contrast|"
    "design|develop|plan|outline|provide|generate|rewrite|edit|convert|classify|sort|"
    "analy[sz]e|evaluate|discuss|define|tell|show|prove|solve|estimate|predict|choose|"
    "select|rank|imagine|pretend|act as|play the role|help|propose|construct|implement|"
    "build|code|program|debug|fix|correct|improve|simplify|shorten|expand|paraphrase|"
    "rephrase|reorder|arrange|organi[sz]e|categori[sz]e|count|verify|decide|argue|"
    "justify|critique|review|assess|brainstorm|invent|illustrate|demonstrate|teach|"
    "extract|format|fill in|complete|continue|finish|answer|respond|reply|consider|"
    "assume|read|transform|split|merge|combine|group|match|label|tag|detect|spot|"
    "highlight|quote|cite|reword|state|specify|express|represent|visuali[sz]e|draw|"
    "sketch|depict|portray|narrate|recount|retell|guess|infer|deduce|derive|"
    "approximate|simulate|model|test|refactor|optimi[sz]e|document|annotate|interpret|"
    "clarify|elaborate|enumerate|itemi[sz]e|tabulate|chart|plot|schedule|rate|score|"
    "grade|judge|advise|announce|introduce|convince|persuade|pitch|recite|rhyme|"
    "conjugate|parse|tokeni[sz]e|encode|decode|encrypt|decrypt|validate|normali[sz]e|"
    "deduplicate|aggregate|query|prepare|pick|offer|share|ask|research|investigate|return|"
    "examine|explore|outline|predict|forecast|reflect|memori[sz]e|spell out|draft|check|"
    "measure|convert|list out|fill out|look up|work out|figure out|come up with|devise|"
    "modify|produce|output|reconstruct|rearrange|formulate|reformulate|reverse|compile|"
    "differentiate|hypothesi[sz]e|think of|think up|re-write|replace|search for|"
    "distinguish|name|paraphrase")
_IMPERATIVE = re.compile(
    rf"(?:^|[.!?:;]\s+|\n\s*|^(?:given|using|based on|with|for|in|from|according to|as|if|"
    rf"when|after|before|assuming|suppose)"
    rf"\b[^.?!\n]{{0,200}},\s*)(?:please\s+)?(?:{_VERBS})\b", _I)
_REQUEST = re.compile(
    r"\b(?:can|could|would|will) you\b|\bi (?:need|want|would like|'d like)\b|"
    r"\byour (?:task|job|goal|answer|response|essay|poem|story|reply) (?:is|should|must|"
    r"will)\b|\byou (?:are|will be) (?:asked|given|tasked|required)\b|"
    r"\b(?:how|what|why|when|where|who|whom|whose|which)\b[^.!\n]*\?",
    _I)
_QUESTION_START = re.compile(
    r"(?:^\W*|[.!?]\s+)(?:how|what|why|when|where|who|whom|whose|which|is|are|was|were|does|"
    r"do|did|can|could|should|would|will|has|have|had)\b", _I)
_QUESTION_MARK = re.compile(r"[?？؟]")
# Words written with spaces count where a sentence starts (Spanish "describe" is English
# "describe" too, and mid-sentence it opens no request); the others anywhere.
# A request may follow a "given" clause ("Dada la siguiente tabla, calcula..."), as
# `_IMPERATIVE` reads it in English.
_GIVEN_OTHER = (r"^(?:dad[oa]s?|considerando|teniendo en cuenta|dat[oaie]|gegeben|"
                r"ausgehend von|étant donnée?s?|compte tenu d[eu]s?|tendo em conta)\b"
                r"[^.!?\n]{0,160}?,\s*")
_OTHER_LANGUAGES = re.compile(
    rf"(?:^|[.!?:;¿¡]\s*|\n\s*|{_GIVEN_OTHER})(?:"
    # es, pt, it
    r"(?:escribe|explica|describe|enumera|da|dame|crea|resume|traduce|calcula|haz|"
    r"indica|compara|diseña|propón|sugiere|nombra|redacta|escreva|explique|descreva|"
    r"liste|crie|resuma|traduza|calcule|faça|compare|sugira|scrivi|spiega|descrivi|"
    r"elenca|crea|riassumi|traduci|calcola|fai|confronta|suggerisci)\b|"
    # de
    r"(?:schreibe|schreib|erkläre|erklär|beschreibe|nenne|gib|erstelle|fasse|übersetze|"
    r"berechne|vergleiche|entwirf|schlage|formuliere|liste|zähle)\b|"
    # fr
    r"(?:écris|écrivez|explique|expliquez|décris|décrivez|donne|donnez|crée|créez|"
    r"résume|résumez|traduis|traduisez|calcule|calculez|cite|citez|liste|listez|"
    r"compare|comparez|propose|proposez|rédige|rédigez|indique|indiquez)\b|"
    # ru
    r"(?:напиши|напишите|объясни|объясните|опиши|опишите|перечисли|перечислите|дай|"
    r"дайте|создай|создайте|переведи|переведите|вычисли|вычислите|придумай|придумайте|"
    r"составь|составьте|сравни|сравните|назови|назовите|предложи|предложите))|"
    # zh
    r"(?:请|写一|写出|解释|描述|列出|列举|给出|创建|总结|翻译|计算|比较|设计|说明|介绍|给我|"
    r"告诉我|帮我|推荐)|"
    # ja
    r"(?:してください|して下さい|ください|教えて|書いて|説明して|挙げて|比較して|作成して|"
    r"翻訳して|計算して|まとめて)|"
    # ar, hi
    r"(?:اكتب|اشرح|صف|اذكر|أعط|قارن|ترجم|احسب|لخص|اقترح|حدد|صمم|ضع|اكتبي|اشرحي)|"
    r"(?:लिखिए|लिखें|लिखो|समझाइए|समझाएं|बताइए|बताएं|बताओ|वर्णन कीजिए|सूची बनाइए)", _I)

# -- the reply is an answer (to the parent), not a task -------------------------------------
# Code keywords are lower case: "Return the largest number" is a task, "return x" code.
_CODE_LINE = re.compile(
    r"^\s*(?:```|def |class |import |from \w+ import|function\b|const |let |var |"
    r"public |private |#include|(?i:select|insert into|create table) |<\w+|\{|\[|"
    r"[\w.]+\s*=\s*|for \w+ in |while |if .*:\s*$|return\b|print\(|console\.log)")


@dataclass(frozen=True)
class TaskShape:
    """What the check read: `cause` is None for a task, else why it is not one."""

    cause: str | None
    matched: str = ""

    @property
    def is_task(self) -> bool:
        return self.cause is None


def _outside_fences(lines: list[str]) -> list[str]:
    """The lines that are not inside a ``` fence."""
    out, inside = [], False
    for line in lines:
        if line.lstrip().startswith(("```", "~~~")):
            inside = not inside
        elif not inside:
            out.append(line)
    return out


def _first(pattern: re.Pattern[str], text: str) -> str:
    m = pattern.search(text)
    return m.group(0).strip() if m else ""


def reads_as_request(text: str) -> bool:
    """Whether a block holds a request form (an imperative, a question, a request phrase)."""
    return any(p.search(text) for p in (_IMPERATIVE, _REQUEST, _QUESTION_START,
                                        _OTHER_LANGUAGES, _QUESTION_MARK))


def task_shape(text: str, parent: str = "", *, pattern: bool = False) -> TaskShape:
    """Whether `text` (an extracted rewrite) reads as a task for an assistant; `pattern`:
    it was written by a few-shot evolver (`self_contained.problem` says what changes)."""
    body = text.strip()
    if not body:
        return TaskShape("empty")
    head = body[:300].replace("\u2019", "'")
    lines = [x for x in body.split("\n") if x.strip()]
    first = lines[0] if lines else ""
    if m := _CHATTER.match(head) or _CHATTER_OTHER.match(head):
        return TaskShape("talks_to_user", m.group(0).strip())
    parent_norm = parent.lower()
    editing = _EDITING.search(body.replace("\u2019", "'"))
    if editing and editing.group(0).lower() not in parent_norm:
        return TaskShape("describes_editing", editing.group(0).strip())
    back = _QUESTION_BACK.search(head)
    if back and back.group(0).lower() not in parent_norm:
        return TaskShape("asks_user", back.group(0).strip())
    prose = _outside_fences(lines)
    if held := problem(body, parent, reads_as_request, pattern=pattern):
        return TaskShape(*held)
    if _CODE_LINE.match(first) and not any(
            _IMPERATIVE.search(x) or _REQUEST.search(x) or _QUESTION_MARK.search(x)
            or _OTHER_LANGUAGES.search(x) for x in prose):
        return TaskShape("code_not_task", first.strip()[:80])
    # The request itself: an imperative, a question, or a request phrase, near the start
    # (a task may carry data after it, which needs no request form), or after a code
    # block it works on.
    opening = "\n".join([*lines[:3], *prose[:2]])[:800]
    for pattern in (_IMPERATIVE, _QUESTION_START, _REQUEST, _OTHER_LANGUAGES):
        m = pattern.search(opening)
        if m:
            return TaskShape(None, m.group(0).strip())
    if _QUESTION_MARK.search(opening):
        return TaskShape(None, _first(_QUESTION_MARK, opening))
    return TaskShape("no_request", first.strip()[:80])


_REASONS = {
    "empty": "the rewrite is empty",
    "talks_to_user": "the rewrite talks to the user instead of stating a task",
    "describes_editing": "the rewrite describes the editing instead of stating the task",
    "asks_user": "the rewrite asks the user a question back",
    "code_not_task": "the rewrite is code, not a task (an answer to its parent?)",
    "missing_input": "the task refers to data it does not give",
    "runs_on": "the rewrite runs on past a separator line into another example",
    "unreferenced_data": "the rewrite adds data that its request never refers to",
    "no_request": "no request found (no imperative, question or request phrase): "
                  "not established to be a task",
}


def task_verdict(text: str, parent: str = "", *, pattern: bool = False) -> Verdict:
    """Rule `not_a_task` from the check (`decided_by: check` in the evidence)."""
    shape = task_shape(text, parent, pattern=pattern)
    rule = RuleId.NOT_A_TASK
    if shape.is_task:
        return Verdict(rule, True, "reads as a task", {"decided_by": "check",
                                                       "matched": shape.matched})
    return Verdict(rule, False, _REASONS[shape.cause or "no_request"],
                   {"decided_by": "check", "cause": shape.cause, "matched": shape.matched})
