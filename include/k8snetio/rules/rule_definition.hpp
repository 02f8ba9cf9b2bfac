// The rule type lives in model/rule_definition.hpp, below the stages that take a rule; this
// header keeps the older include path working. The shipped rules (anomalous_network_io.hpp,
// network_io_ratio.hpp) sit beside it, above the engines.
#pragma once

#include "../model/rule_definition.hpp"
