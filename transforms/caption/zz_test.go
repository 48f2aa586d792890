package caption
import ("testing")
func BenchmarkZZOne(b *testing.B){
 caps := laionCaptions(b)
 ft,_ := fastTagger()
 sc := &tagScratch{}
 c := caps[7]; for _, x := range caps { if len(x) > 80 && len(x) < 120 { c = x; break } }
 for i:=0;i<b.N;i++{ ft.tagCaption(c, sc) }
 b.ReportMetric(float64(sc.predictions)/float64(b.N), "pred/op")
}
func BenchmarkZZMany(b *testing.B){
 caps := laionCaptions(b)
 ft,_ := fastTagger()
 sc := &tagScratch{}
 for i:=0;i<b.N;i++{ ft.tagCaption(caps[i%len(caps)], sc) }
 b.ReportMetric(float64(sc.predictions)/float64(b.N), "pred/op")
}
