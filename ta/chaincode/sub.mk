srcs-y += coffee.c
srcs-y += bench.c
