// Placeholder: filled by the triplet work; kept so that CMake's source list need not change.
