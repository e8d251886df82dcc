srcs-y += coffee.c
