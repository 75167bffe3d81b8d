#include "internal.h"
int sp_strategy_ffs(sp_job *job) { (void)job; return SP_ERR_UNKNOWN_STRATEGY; }
int sp_strategy_mffd(sp_job *job) { (void)job; return SP_ERR_UNKNOWN_STRATEGY; }
int sp_strategy_obfdp(sp_job *job) { (void)job; return SP_ERR_UNKNOWN_STRATEGY; }
int sp_strategy_hk(sp_job *job) { (void)job; return SP_ERR_UNKNOWN_STRATEGY; }
