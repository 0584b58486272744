"""Render a report notebook with papermill, then export it as self-contained HTML.

Parameters are checked first (`params`), so a bad one fails with a clear message before any
cell runs and writes nothing. The notebook runs on an ipykernel of this very interpreter
(whatever kernelspecs other Pythons installed), inheriting the environment, so it reads the
same `ECOIN_HOME`. Both files are written to temporary names beside their targets and renamed
into place only once the whole notebook ran and exported: a failed run leaves the previous
report as it was.

Output (one current report per coin and per topic; the window is in the report):
`$ECOIN_HOME/reports/coin/<coin>.ipynb` and `.html`, and
`$ECOIN_HOME/reports/sentiment/<topic>.ipynb` and `.html` (topics as safe file names).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import zmq
from jupyter_client import AsyncKernelManager
from jupyter_client.kernelspec import KernelSpec
from traitlets import default

from ecoin_assets.config import Settings
from ecoin_assets.errors import UserError
from ecoin_assets.reports.params import coin_params, sentiment_params

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
KINDS = {"coin": "coin_report.ipynb", "sentiment": "sentiment_report.ipynb"}
CELL_TIMEOUT = 600  # seconds a cell may run
_SAFE = re.compile(r"[^a-z0-9._-]+")
EMBEDDED_PNG = re.compile(r"<img\b[^>]*\bsrc=\"data:image/png;base64,")
# JupyterLab's HTML template without what it would load from a CDN (require.js, MathJax,
# Mermaid, widgets): reports show text, tables and PNG images only.
OFFLINE_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block data_png scoped -%}
<div class="jp-RenderedImage jp-OutputArea-output">
<img src="data:image/png;base64,{{ output.data['image/png'] | escape_html }}"
 alt="{{ ((output | get_metadata('alt', 'image/png')) or 'plot') | escape_html }}">
</div>
{%- endblock data_png -%}
"""


class ThisPythonKernel(AsyncKernelManager):
    """A kernel manager that always starts ipykernel on `sys.executable`, its messages
    encrypted (CurveZMQ) where pyzmq supports it."""

    @default("transport_encryption")
    def _encrypt(self) -> str:
        return "auto" if zmq.has("curve") else "disabled"

    @property
    def kernel_spec(self) -> KernelSpec:
        if self._kernel_spec is None:
            from ipykernel.kernelspec import RESOURCES, get_kernel_dict

            self._kernel_spec = KernelSpec(resource_dir=RESOURCES, **get_kernel_dict())
        return self._kernel_spec

    async def _async_interrupt_kernel(self) -> None:
        """Interrupt, except on the way to a shutdown.

        jupyter_client interrupts a kernel before every shutdown, to stop code still running.
        papermill shuts down after the last cell, so that SIGINT can only land between
        messages, where ipykernel logs "KeyboardInterrupt caught in kernel" as an ERROR on
        the caller's stderr (seen in `ecoin demo`'s output). The shutdown request that follows
        stops the kernel, and a kernel that does not stop in time is killed.
        """
        if not self.shutting_down:
            await super()._async_interrupt_kernel()


@dataclass(frozen=True)
class Rendered:
    kind: str
    parameters: dict
    notebook: Path
    html: Path
    seconds: float
    images: int  # plots embedded in the HTML

    def as_dict(self) -> dict:
        return {
            "report": self.kind,
            "parameters": self.parameters,
            "notebook": str(self.notebook),
            "html": str(self.html),
            "images": self.images,
            "seconds": round(self.seconds, 2),
        }


def file_stem(name: str) -> str:
    """A file name for a coin or topic: lowercase letters, digits, `.`, `_` and `-`, with a
    short hash when anything had to change (so distinct topics never share a file)."""
    stem = _SAFE.sub("-", name.strip().lower()).strip("-.") or "topic"
    if stem != name:
        stem += "-" + hashlib.sha256(name.encode()).hexdigest()[:6]
    return stem


def report_paths(home: Path, kind: str, name: str) -> tuple[Path, Path]:
    """Where the report of `kind` for coin or topic `name` is written: (.ipynb, .html)."""
    folder = home / "reports" / kind
    stem = file_stem(name)
    return folder / f"{stem}.ipynb", folder / f"{stem}.html"


def render_coin_report(
    settings: Settings,
    coin: str,
    start: str | None = None,
    end: str | None = None,
    horizon: int | str = 7,
    progress: bool = False,
) -> Rendered:
    """Check the parameters, run `coin_report.ipynb` and write it as .ipynb and HTML."""
    params = coin_params(coin, start, end, horizon, settings=settings)
    return _render(settings, "coin", params.coin, params.as_dict(), progress)


def render_sentiment_report(
    settings: Settings,
    topic: str,
    start: str | None = None,
    end: str | None = None,
    progress: bool = False,
) -> Rendered:
    """Check the parameters, run `sentiment_report.ipynb` and write it as .ipynb and HTML."""
    params = sentiment_params(topic, start, end, settings=settings)
    return _render(settings, "sentiment", params.topic, params.as_dict(), progress)


def _render(settings: Settings, kind: str, name: str, parameters: dict, progress: bool) -> Rendered:
    import nbformat
    import papermill

    template = NOTEBOOKS / KINDS[kind]
    if not template.exists():
        raise UserError(f"the report notebook {template} is missing (ecoin's notebooks/ folder)")
    notebook, html = report_paths(settings.home, kind, name)
    notebook.parent.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    with _temporary(notebook) as tmp_notebook, _temporary(html) as tmp_html:
        try:
            executed = papermill.execute_notebook(
                str(template),
                str(tmp_notebook),
                parameters=parameters,
                kernel_name="python3",
                kernel_manager_class=ThisPythonKernel,
                progress_bar=progress,
                log_output=False,
                execution_timeout=CELL_TIMEOUT,
            )
        except papermill.PapermillExecutionError as exc:
            raise UserError(
                f"the {kind} report of {name!r} failed in cell {exc.exec_count}: "
                f"{exc.ename}: {exc.evalue}"
            ) from None
        executed.metadata["title"] = (
            f"ecoin {kind} report: {name}, {parameters['start']} to {parameters['end']}"
        )
        executed.metadata["papermill"]["output_path"] = str(notebook)  # not the temporary one
        nbformat.write(executed, tmp_notebook)
        body, images = to_html(executed)
        tmp_html.write_text(body, encoding="utf-8")
        for tmp in (tmp_notebook, tmp_html):
            tmp.chmod(0o644)  # mkstemp's files are private; reports are for everyone here
        os.replace(tmp_notebook, notebook)
        os.replace(tmp_html, html)
    return Rendered(kind, parameters, notebook, html, time.monotonic() - began, images)


@contextlib.contextmanager
def _temporary(target: Path):
    """A fresh hidden file name beside `target`, removed unless renamed into place."""
    fd, name = tempfile.mkstemp(
        prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}", dir=target.parent
    )
    os.close(fd)
    path = Path(name)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def to_html(notebook) -> tuple[str, int]:
    """The executed notebook as one HTML page that loads nothing from the network (images
    inline, no MathJax or require.js from a CDN, code cells hidden), and its image count."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab",
        extra_loaders=[DictLoader({"ecoin_report.html.j2": OFFLINE_TEMPLATE})],
        template_file="ecoin_report.html.j2",
        embed_images=True,
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    body, _ = exporter.from_notebook_node(notebook)
    return body, len(EMBEDDED_PNG.findall(body))
