/* SPDX-License-Identifier: Apache-2.0 */
/*
 * INSECURE TEST KEY. The "device key" of the host-native build: an RSA-2048 key generated
 * once for FOC's tests and published here, so anyone can sign "native-insecure-v1"
 * evidence with it. It proves nothing. Verifiers must refuse evidence of that kind unless
 * a test explicitly allows it. The public half is insecure_device_key.pub.pem.
 */
#include "crypto_native.h"

const char foc_native_insecure_device_key_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIIEvwIBADANBgkqhkiG9w0BAQEFAASCBKkwggSlAgEAAoIBAQDpD/qrJliDmwgx\n"
	"AuqNUB01r3CiH2w/T+P5IHDJvOMvsa0h9sbNxtBi5RhtBd1yPWjH0nvWkQfcENZz\n"
	"iWHY0kP5K5R+ahZ2l+A3M5YECt+Pi37lLjXZQeCZxLyZ6tT3EvnD/U9jj8v5J1bE\n"
	"te9NUzVEHJEsMBGHrC/8J9aqFVX+J2gkpsBOwPXzfYq+Zl4Melct+xsCMnyEyO6g\n"
	"D9cL1uksZOxHiIyPotydBjB9cufmx2q5yDUgwWmZ3skDt9Gt4pmCrzb5yBeOEknm\n"
	"SvGGhizVk6hcCok7MFaMCBBsYlVadKyBWixRY4jn0Bo/84MYqoaYuYLw5znWctn5\n"
	"VMVcnLVrAgMBAAECggEAGXmNKUMGPtBl21GZyLt+jd0w3w+3Oc5mOVdx7KMwZAi0\n"
	"R3edcGWwZnbrLhOLio6q0tivf5sXtFbE0hkssFH/aw936j93WBwuvmntlmCH4j1Z\n"
	"r/xWl3pLbhNimCJih+Uzltgr4tKXdZL2uYa3cwjK1DiZJ67TY7SPBC1omeu+HAsG\n"
	"PHqwVj3674IxJKzkrRZoPmwYWp/LkQLEmgcvT29GVbv2Ux+yEMzvmQkOduX3+aAz\n"
	"uddt2TlNlUQpI0bU1X5V2ErmEWJp3jvu1M5ZorDuiu7jCG61y1oUuO+TzfRgg6xj\n"
	"uhX2rBJU/CwY8ddMXu7rYZkABQwVIDia7DRlwtzqzQKBgQD7A9l24sP69H6IXLWS\n"
	"HuMelRtFguuv2ZcAp8HBAdYpBUEECPlaTp0lUuZAjv8Rrrd+IJJxu4N0ki/X7QnK\n"
	"AR9a3V6UYi2CIRRI9ByKZ2ijVnxb001dHsSUZS3GBOBjn2HYpY5nBE/XGfcgCGm5\n"
	"jiD8jUlJ2xUs8cMxrs36QgjknQKBgQDtsNv7LcJdqmKH2Fpj+HzILO/1kCOS+o3p\n"
	"cEx3Qa1+BZKnN+TL/lZpwn+WKZTO9ghDlIFNzF9udf5xBz4d0ew9ka/TKok5eErI\n"
	"HbhQGwn7EpQ3xw4bncZCTZShlTnrAqztiUp74PSQ2syXKC49dnqEwUn2bz985jJb\n"
	"+24C3JXvpwKBgQDJtLsv7GMdqxBulUkWhRluvtSuU9j+cvQDg8qPROGKDv3Ct09g\n"
	"QSHIF0iNAht3YxVyFcx39f1ZVAt8EK84ExTWGGLjC82T7u70/Kxej2AnON0vkKlv\n"
	"NcUzleZlZA/IHhArXkYDBBUAPY42wGvsvohFSWdmINVwS0nWB6je++dXhQKBgQC0\n"
	"puDq7QJ20hMFEGjS5n9gXNccGisPgKLvM0zKrv4/c9jcgtzANlRTGWKDLKNPESuC\n"
	"wZHtIVG+0KtMGKcbXvtgaCPsKL4XEdg0dHIrYAGb86j3I7ETSDzxE6nNjW9xsJzi\n"
	"BKC5umXm2oT4ta8/Q5cm4wll5XOpaAQKaPRZ9HF4rQKBgQCUR3gDMa20rrlIakC0\n"
	"mA8WQIWTvSo0pkF7Ba5B7Iwri8RjTFCd7YkcS1FuLZvoN0KkRcp4YCgobUHKtEve\n"
	"b8K1JY1wWc6P6Kj2DyElqJ2bZHcIjFOH49g9ugJii4C1zC62xFznBSDdgr2rD3TV\n"
	"6l3fhO5y/1eduyO+9wBw56uqNQ==\n"
	"-----END PRIVATE KEY-----\n"
;
