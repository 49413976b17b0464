# Core placement picture for docs/compiler.md: gnuplot -e "in='place.csv'; out='placement_S.png'; ttl='...'" docs/img/placement.gp
# in: the CSV of `floe compile --placement` (x,y,layer,role,bytes,weight_bytes,kv_bytes).
set terminal pngcairo size 900,820 font "sans,10"
set output out
set datafile separator ","
set title ttl
set xrange [-0.6:15.6]
set yrange [15.6:-0.6]
set xtics 0,1,15
set ytics 0,1,15
set xlabel "core x"
set ylabel "core y"
set size ratio -1
set key outside right top title "group"
set palette defined (-1 "#7f7f7f", 0 "#1f77b4", 1 "#ff7f0e", 2 "#2ca02c", 3 "#d62728", 4 "#9467bd", 5 "#8c564b", 6 "#e377c2", 7 "#bcbd22")
set cbrange [-1:7]
unset colorbox
# every core used: a square in its group's colour (LM head grey); M = main core, A = attention core
# (one per KV head), weight cores carry slices of the linear layers; the down projection's chains
# are consecutive cores along the serpentine (row 0 left to right, row 1 right to left, ...)
plot in skip 1 using 1:2:(0.45):(0.45):3 with boxxyerror fillstyle solid 0.85 noborder lc palette notitle, \
     in skip 1 using 1:2:(strcol(4) eq "main" ? "M" : strcol(4) eq "attention" ? "A" : "") with labels font "sans,9" notitle, \
     in skip 1 using 1:2 with lines lc rgb "#444444" lw 0.6 title "serpentine order", \
     for [g=-1:3] 1/0 with boxes fillstyle solid lc palette cb g title (g < 0 ? "LM head" : sprintf("layer %d", g))
