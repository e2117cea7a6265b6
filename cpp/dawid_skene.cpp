// Placeholder: filled by the dawid_skene work; kept so that CMake's source list need not change.
