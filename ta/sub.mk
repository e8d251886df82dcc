global-incdirs-y += include
global-incdirs-y += core
srcs-y += foc_ta.c
subdirs-y += core
subdirs-y += chaincode
