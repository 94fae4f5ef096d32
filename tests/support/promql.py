"""Which metric names a PromQL expression reads: what the rule, dashboard and live checks use
to hold every query to the series the daemon exports or a recording rule records."""

import re

PROMQL_WORDS = frozenset(
    {
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "offset",
        "bool",
        "and",
        "or",
        "unless",
        "inf",
        "nan",
    }
)


def metric_names(expr: str) -> set[str]:
    """The metric (and recorded series) names a PromQL expression reads: what is left once
    strings, label matchers, ranges, grouping clauses, functions and keywords are gone."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # label values, template strings
    text = re.sub(r"\{[^}]*\}", " ", text)  # matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    text = re.sub(r"\$\{[^}]*\}|\$\w+", " ", text)  # dashboard variables
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\boffset\s+\w+", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", text):
        word, call = match.group(1), match.group(2)
        if call is None and word.lower() not in PROMQL_WORDS:
            names.add(word)
    return names
