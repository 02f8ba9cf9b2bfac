// S4: the byte form of an engine's state lives in detail/snapshot.hpp, below the stages that
// save theirs; this header keeps the older include path working.
#pragma once

#include "../detail/snapshot.hpp"
