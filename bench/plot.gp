# Latency against device count, one panel per operation, one line per
# implementation. Usage: gnuplot -e "csv='latency.csv'; png='latency.png'" plot.gp
set terminal pngcairo size 1600,1100 font ",10" noenhanced
set output png
set datafile separator ","
set logscale xy
set key top left
set xlabel "devices"
set ylabel "µs per operation (median)"
set grid
ops = "create load resume suspend_resume status table info list message_create_thin message_delete remove"
impls = "bare dmioctl libdm"
set multiplot layout 3,4 title "device-mapper operation latency (dm_bench)"
do for [op in ops] {
  set title op
  plot for [impl in impls] \
    sprintf("< grep '^%s,%s,' '%s'", op, impl, csv) \
    using 3:4 with linespoints title impl
}
unset multiplot
