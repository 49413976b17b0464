; Floe program: 1 core(s) with code, 22 instruction(s), 2 image(s), 5 symbol(s)
.fingerprint 0x0000000000005eed

.framebuffer
.region fb_1_1, 0x1b19e5, 1342340
.region fb_1_0, 0x38a266, 1881081
.data 0x16000
.bytes 15f5ec5e8b23acb915c15af63074a50aaafb41f935b0807e8745e9ddbac0eddc
.bytes acf534bd3e79632b777ed48929625563ad

.core 174, 197
.region reg_0_0, 0x7a987, 305727
.data 0x3a000
.bytes 72b3c3e6009fb0e5d4608f672ec5e3b3f1e2782e32649da9e74aaae2bf8d3738
.bytes 7b3124c42b860b9dfcabc6110bd51cc77adc333d05d2ea51f8ef5dc97f5b91a0
.bytes 766251e7d48937c13fe778acfc4541989430dd4ca451b95b82b76f055fd1
t2_start_0:
    vmax.t2 0xdd847+r6, 0x305e5, reg_0_0+0x268e5+r6, 16605, i2
    vshift.t2 0x4c291+r5, reg_0_0+0x1d588+r6, 57813, i4, 127
    fbst.t2 0x22619acd, 0x65e88+r7, 1792552
    loop.t7 8198, .L5, r6, 366773
    vmul.t7 0x1f397+r2, 0xe67c+r7, 0x195528+r5, 56957, i4, 27
.L5:
    rsqrt.t7 0x1ed7d9+r3, reg_0_0+0x964f, 0
    vmax.t7 0x143ede+r6, 0x59437, 0x1a8c58+r7, 25221, i8
    halt.t7
    wait.t7 5, 0
    addi.t7 r2, 1048575
    recip.t7 0xed8c8+r6, 0xce97a+r2, 7478
    accld.t7 8173+r3, 0x1f4dc2+r6, 65535
    mcast.t7 0x11942f+r1, 362260, 0, 255, 73, 0, 15
    loop.t7 7314, .L18, r5, -795349
    recv.t7 0x1c6879+r4, 0, 106, 206, 0
    mcast.t7 0xff5e6+r7, 28909, 223, 52, 255, 100, 0
    sig.t7 15, 255, 0
    vshift.t7 0x192e15+r5, reg_0_0+0xc5b8+r2, 65535, i2, 47
.L18:
    copy.t7 0x1df00f+r2, 0x1b9fde+r3, 613810
    loop.t7 31522, end, r2, -337513
    recv.t7 0xe679c+r4, 0, 208, 0, 15
    seti.t7 r3, -962849
end:
