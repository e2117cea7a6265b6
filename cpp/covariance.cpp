// Placeholder: filled by the covariance work; kept so that CMake's source list need not change.
