"""Code that a subprocess runs first to be a serving install: torch, pandas and the rest of the
build extra cannot be imported (and the test checks afterwards that none was)."""

BLOCKED = {"torch", "torchvision", "sentence_transformers", "transformers", "pandas", "pyarrow"}

BLOCK_BUILD_EXTRA = "\nimport sys\nBLOCKED = " + repr(BLOCKED) + r"""
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is not installed (blocked by the test)")
sys.meta_path.insert(0, Block())
"""
