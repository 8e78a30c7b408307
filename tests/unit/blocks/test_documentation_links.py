"""Every block's documentation link (shown on its page in the Prefect UI) opens a section of
the README that exists."""

import re
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from prefect.blocks.core import Block

import heroes.blocks
from heroes.blocks._common import DOCS_URL

README = Path(__file__).parents[3] / "README.md"
BLOCKS = [block for name in heroes.blocks.__all__
          if isinstance(block := getattr(heroes.blocks, name), type) and issubclass(block, Block)]


def github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives the headings of ``markdown``: lower case, punctuation dropped,
    spaces as '-', and '-1', '-2', ... after a repeated one. Fenced code is not a heading."""
    anchors: set[str] = set()
    seen: Counter[str] = Counter()
    fenced = False
    for line in markdown.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            continue
        heading = None if fenced else re.match(r" {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$", line)
        if heading:
            anchor = re.sub(r"[^\w\- ]", "", heading.group(1).lower()).replace(" ", "-")
            anchors.add(f"{anchor}-{seen[anchor]}" if seen[anchor] else anchor)
            seen[anchor] += 1
    return anchors


def test_github_anchors() -> None:
    text = "# HEROES on Prefect\n## Enrol a centre, check it, integrate clouds\n```bash\n# not one\n```\n" \
           "### Cloud platforms ###\n## Costs\n## Costs\n## The `CentralArchive` block (S3)\n"
    assert github_anchors(text) == {"heroes-on-prefect", "enrol-a-centre-check-it-integrate-clouds",
                                    "cloud-platforms", "costs", "costs-1", "the-centralarchive-block-s3"}


def test_the_blocks_are_found_in_the_collection() -> None:
    assert heroes.blocks.HPCCentre in BLOCKS and len(BLOCKS) >= 6


@pytest.mark.parametrize("block", BLOCKS, ids=lambda block: block.__name__)
def test_the_documentation_link_opens_a_readme_section(block: type[Block]) -> None:
    url = str(block._documentation_url)
    fragment = urlsplit(url).fragment
    assert url == DOCS_URL + "#" + fragment and fragment
    assert fragment in github_anchors(README.read_text()), (
        f"{block.__name__} links to #{fragment}, which no heading of README.md makes")
