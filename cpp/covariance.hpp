// Covariance recovery: placeholder until the next commit.
#pragma once
