#ifndef RECKON_CHIREDIS_SHIM_H
#define RECKON_CHIREDIS_SHIM_H
#include <hiredis.h>

// The reply type codes are macros; Swift sees them as getters.
static inline int reckon_REDIS_REPLY_STRING(void) { return REDIS_REPLY_STRING; }
static inline int reckon_REDIS_REPLY_ARRAY(void) { return REDIS_REPLY_ARRAY; }
static inline int reckon_REDIS_REPLY_INTEGER(void) { return REDIS_REPLY_INTEGER; }
static inline int reckon_REDIS_REPLY_NIL(void) { return REDIS_REPLY_NIL; }
static inline int reckon_REDIS_REPLY_STATUS(void) { return REDIS_REPLY_STATUS; }
static inline int reckon_REDIS_REPLY_ERROR(void) { return REDIS_REPLY_ERROR; }
// The context's error string is a fixed char array, a tuple in Swift.
static inline const char *reckon_redis_errstr(const redisContext *c) { return c->errstr; }
#endif
