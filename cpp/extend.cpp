// Placeholder: filled by the extend work; kept so that CMake's source list need not change.
