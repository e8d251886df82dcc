srcs-y += coffee.c
srcs-y += bench.c
srcs-y += probe.c
