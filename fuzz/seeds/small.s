; sample
.framebuffer
.region wts, 0x100000, 65536
.core 0, 0
.region act, 0x0, 256
.region w, 0x1000, 4096
.region out, 0x2000, 256
.data w+16
.bytes 00ff7f80 0102
    seti.t0 r1, 0
    loop.t0 4, end, r1, 64   # four tiles
    vmm.t0 0, act+r1, w+r1, 64, 64, i8, i4, set
    requant.t0 out, 0+r1, w, 64, i8, channel
end:
    wstream.t1 w, wts+0x40, 4096
    sig.t1 3, 0, 1
    halt.t0
.core 1, 0
    loop.t2 2, .L1, r0, 0
    nop.t2
.L1:
    halt.t2
