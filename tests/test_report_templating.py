"""The report's Jinja environment: compiled templates cached between processes, never at the report's cost."""

from __future__ import annotations

import jinja2

from smartcities.report import templating


def _env(cache: jinja2.BytecodeCache, source: str) -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.DictLoader({"page.j2": source}), bytecode_cache=cache)


def test_compiled_templates_are_cached_and_an_edited_template_compiled_afresh(tmp_path):
    cache = templating._QuietCache(str(tmp_path))
    assert _env(cache, "Hello {{ name }}").get_template("page.j2").render(name="Seoul") == "Hello Seoul"
    assert len(list(tmp_path.iterdir())) == 1  # the compiled code, for the next process
    assert _env(cache, "Bye {{ name }}").get_template("page.j2").render(name="Seoul") == "Bye Seoul"


def test_a_cache_folder_that_cannot_be_written_only_means_compiling_again(tmp_path):
    cache = templating._QuietCache(str(tmp_path / "missing"))
    assert _env(cache, "{{ 1 + 2 }}").get_template("page.j2").render() == "3"


def test_the_report_templates_share_one_environment():
    env = templating.environment()
    assert env is templating.environment() and env.autoescape
    assert env.get_template("report.html.j2") is env.get_template("report.html.j2")
