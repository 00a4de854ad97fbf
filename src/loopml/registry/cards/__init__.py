"""Model cards: a plain dict the registry assembles, rendered as Markdown or offline HTML.

The card dict (every key optional; a missing user field renders as "not provided")::

    model:         name, version, uri, flavor, created_by, created_at (epoch s or text),
                   state, aliases [str]
    overview:      description, intended_use, out_of_scope, owners (str or [str])
    training_data: [{uri, role, rows, columns, time_column?, profile: {column: {kind, nulls,
                   null_fraction, min, max, mean, std, quantiles {"0.5": ...},
                   top [{value, count}]}}}]     (loopml dataset profiles)
    metrics:       {name: value}
    evaluations:   [{dataset (uri), metrics {name: value}}]
    fairness:      FairnessReport.to_dict() or None
    lineage:       run, experiment, git_commit, dirty, python, packages (count), datasets [uri]
    approvals:     [{id, alias, status, requester, reason?, decisions [{principal, decision,
                   comment, at}], checks [{name, passed, message}]}]
    limitations:   [str]   (stated by the owners; derived ones are added, see
                   `derive_limitations`)

The content is built once as neutral blocks (`sections.py`); `render_markdown` and
`render_html` only draw them, so both formats say the same thing.
"""

from loopml.registry.cards.html_card import render_html
from loopml.registry.cards.limitations import derive_limitations
from loopml.registry.cards.markdown_card import render_markdown

__all__ = ["derive_limitations", "render_html", "render_markdown"]
