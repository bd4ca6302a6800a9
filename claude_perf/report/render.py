"""ReportModel → Markdown or self-contained HTML text, through Jinja2 templates.

Templates are rendered with StrictUndefined, so a missing value is an error and never a blank.
The bundled templates ship in the ``claude_perf.templates`` package; ``template`` points at a
user's own file instead. Markdown gets no autoescaping (the model's ``.md`` strings are already
escaped); HTML is autoescaped, and its charts are inlined as ``data:`` URIs so the file needs no
network and no neighbour files.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from claude_perf.errors import InputError, UsageError

if TYPE_CHECKING:
    import jinja2

    from claude_perf.report.model import ReportModel

TEMPLATES = {"markdown": "report.md.j2", "html": "report.html.j2"}


def _bundled(name: str) -> str | None:
    """A template shipped in the claude_perf.templates package (importlib.resources)."""
    from importlib.resources import files

    resource = files("claude_perf.templates").joinpath(name)
    return resource.read_text(encoding="utf-8") if resource.is_file() else None


def _environment(autoescape: bool, template: Path | None) -> tuple[jinja2.Environment, str]:
    import jinja2

    if template is None:
        loader: jinja2.BaseLoader = jinja2.FunctionLoader(_bundled)
        name = ""
    else:
        if not template.is_file():
            raise InputError(f"{template}: template not found")
        loader = jinja2.FileSystemLoader(str(template.parent))
        name = template.name
    env = jinja2.Environment(
        loader=loader,
        undefined=jinja2.StrictUndefined,
        autoescape=autoescape,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env, name


def _render(model: ReportModel, fmt: str, charts: Mapping[str, str], template: Path | None) -> str:
    import jinja2

    env, name = _environment(fmt == "html", template)
    try:
        text = env.get_template(name or TEMPLATES[fmt]).render(report=model, charts=dict(charts))
    except jinja2.TemplateSyntaxError as exc:
        raise UsageError(f"template {exc.filename or name}:{exc.lineno}: {exc.message}") from exc
    except jinja2.UndefinedError as exc:
        raise UsageError(f"template {name or TEMPLATES[fmt]}: {exc.message}") from exc
    return text if text.endswith("\n") else text + "\n"


def render_markdown(
    model: ReportModel, chart_links: Mapping[str, str], template: Path | None = None
) -> str:
    """Markdown; ``chart_links`` maps chart name → relative path of its PNG (absent: no chart)."""
    return _render(model, "markdown", chart_links, template)


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def render_html(
    model: ReportModel, chart_pngs: Mapping[str, bytes], template: Path | None = None
) -> str:
    """One self-contained HTML file: styles inline, charts as data URIs, no scripts or links."""
    return _render(model, "html", {k: data_uri(v) for k, v in chart_pngs.items()}, template)


def charts_dir_for(output: Path) -> Path:
    """Where the PNGs of a report written to ``output`` go: ``<stem>-charts/`` beside it."""
    return output.with_name(f"{output.stem}-charts")


def write_charts(charts: Mapping[str, bytes], folder: Path) -> dict[Path, str]:
    """Write each PNG as ``folder/<name>.png``; returns path → link relative to the report."""
    from urllib.parse import quote

    from claude_perf.runtime.private_files import write_private

    written: dict[Path, str] = {}
    try:
        for name, png in charts.items():
            path = write_private(folder / f"{name}.png", png)
            written[path] = quote(f"{folder.name}/{name}.png")
    except OSError as exc:
        raise InputError(f"{folder}: cannot write charts ({exc.strerror or exc})") from exc
    return written


def report_text(
    analysis: Any,
    model: ReportModel,
    fmt: str,
    output: Path | None,
    charts: bool,
    template: Path | None,
) -> tuple[str, tuple[Path, ...]]:
    """The Markdown or HTML text, and the chart files written beside ``output``.

    Markdown: charts are PNGs in ``<output-stem>-charts/`` linked relatively; with no output
    (stdout) there is nowhere to put them, so none are drawn. HTML inlines them, so it carries
    its charts to stdout too. ``charts=False`` draws none.
    """
    pngs: dict[str, bytes] = {}
    if charts and (fmt == "html" or output is not None):
        from claude_perf.report.charts import draw

        pngs = draw(analysis, model.charts)
    if fmt == "html":
        return render_html(model, pngs, template), ()
    links = write_charts(pngs, charts_dir_for(output)) if output is not None and pngs else {}
    by_name = {path.stem: link for path, link in links.items()}
    return render_markdown(model, by_name, template), tuple(links)
