; Floe program: 1 core(s) with code, 41 instruction(s), 0 image(s), 1 symbol(s)
.fingerprint 0x0000000000005eed

.core 0, 0
.region act, 0x0, 4096
    loop.t0 4, .L41, r1, 64
    nop.t0
    halt.t0
    seti.t0 r1, 4095
    addi.t0 r3, 0
    wait.t0 15, 25
    bar.t0 255, 227
    vmm.t0 3900, act+0x216, act+0x65d, 937, 4095, i4, i2, add
    accclr.t0 1537, 4095
    vadd.t0 act+0xf7f, act+0xa26, act+0xca0, 4095, i32
    vmul.t0 act+0xcfc, act+0xf20, act+0x477, 4095, i4, 15
    vmax.t0 act+0x7cc, act+0xbf5, act+0x409, 0, i32
    vshift.t0 act+0x975, act+0x246, 4095, i4, -128
    vsat.t0 act+0x734, act+0xda, 4095, i32, i2
    vsum.t0 act+0xe1d, act+0x20d, 374, i8
    vsumsq.t0 act+0x618, act+0x7ef, 907, i2
    vmaxr.t0 act+0x365, act+0xa9d, 0, i8
    requant.t0 act+0xdaa, 4058, act+0x90e, 4095, i32, tensor
    vrequant.t0 act+0x67c, act+0xee3, act+0x9e5, 1985, i2, channel
    multmul.t0 act+0xb75, act+0x5bd, act+0xf4a, 4095, channel
    accst.t0 act+0x110, 1783, 186
    accld.t0 3052, act+0x396, 1270
    lut8.t0 act+0x562, act+0x260, act+0x2d7, 4095
    lut16.t0 act+0x99c, act+0xedb, act+0x3b0, 3022, i16
    exp2.t0 act+0xbae, act+0xc1, 986
    softmax.t0 act+0x5a2, act+0x28, 313
    recip.t0 act+0xc19, act+0x9db, 3025
    rsqrt.t0 act+0x6b, act+0x37, 433
    rmsnorm.t0 act+0x801, act+0x657, act+0xc80, act+0xeb2, 1453, i4, channel
    rope.t0 act+0x5c3, act+0x639, act+0xfad, act+0x6ad, 0
    copy.t0 act+0xae7, act+0x4d8, 0
    fill.t0 act+0x61e, 1172, 0
    fbld.t0 act+0x2ec, 0xbe3, 4095
    fbst.t0 0xfff, act+0x43f, 0
    send.t0 act+0xb2c, 4095, 184, 255, 13
    mcast.t0 act+0xfd, 4095, 168, 0, 255, 173, 15
    recv.t0 act+0xff6, 3596, 255, 255, 12
    psend.t0 158, 4095, e, 2
    precv.t0 2748, 3481, e, 15
    wstream.t0 act+0x299, 0x733, 1991
    sig.t0 5, 98, 246
.L41:
