"""Write a trained sentence-transformers body's weights as fp16 safetensors + sha256.

Run: .venv/bin/python bench/body/export_fp16.py bodies/stance-mnrl
-> bodies/stance-mnrl/model.fp16.safetensors and its sha256 in export.json
"""

import hashlib
import json
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

d = Path(sys.argv[1])
sd = load_file(str(d / "model.safetensors"))
half = {k: v.to(torch.float16).contiguous() for k, v in sd.items()}
out = d / "model.fp16.safetensors"
save_file(half, str(out), metadata={"format": "pt"})
h = hashlib.sha256(out.read_bytes()).hexdigest()
info = {"file": out.name, "bytes": out.stat().st_size, "sha256": h}
json.dump(info, open(d / "export.json", "w"), indent=1)
print(info)
