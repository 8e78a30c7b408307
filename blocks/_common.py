"""Where the blocks' logos and documentation live."""

DOCS_URL = "https://heroes-project.github.io/heroes/"
LOGO_BASE_URL = "https://heroes-project.github.io/heroes/logos/"
