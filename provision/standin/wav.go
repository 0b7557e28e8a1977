package standin

import (
	"encoding/binary"
	"io"
	"math"
	"sync"
)

// The format of the WAV files served: Twilio's, 8 kHz 16-bit mono PCM.
const (
	wavRate       = 8000
	wavBits       = 16
	wavHeaderSize = 44
	toneHz        = 400 // divides wavRate, so a second of tone repeats cleanly
	toneAmplitude = 1000
)

// wavSize is the size of a WAV file of the given length.
func wavSize(seconds int) int64 {
	return wavHeaderSize + int64(seconds)*wavRate*wavBits/8
}

// oneSecond is a second of the quiet tone, as little-endian samples.
var oneSecond = sync.OnceValue(func() []byte {
	b := make([]byte, wavRate*wavBits/8)
	for i := range wavRate {
		v := int16(toneAmplitude * math.Sin(2*math.Pi*toneHz*float64(i)/wavRate))
		binary.LittleEndian.PutUint16(b[2*i:], uint16(v))
	}
	return b
})

// writeWAV writes a RIFF/WAVE file of seconds of quiet tone, a second at
// a time, so an hour's recording (58 MB) is never held in memory.
func writeWAV(w io.Writer, seconds int) error {
	data := uint32(wavSize(seconds) - wavHeaderSize)
	h := make([]byte, 0, wavHeaderSize)
	h = append(h, "RIFF"...)
	h = binary.LittleEndian.AppendUint32(h, 36+data)
	h = append(h, "WAVEfmt "...)
	h = binary.LittleEndian.AppendUint32(h, 16) // the fmt chunk's size
	h = binary.LittleEndian.AppendUint16(h, 1)  // PCM
	h = binary.LittleEndian.AppendUint16(h, 1)  // mono
	h = binary.LittleEndian.AppendUint32(h, wavRate)
	h = binary.LittleEndian.AppendUint32(h, wavRate*wavBits/8) // bytes a second
	h = binary.LittleEndian.AppendUint16(h, wavBits/8)         // bytes a sample
	h = binary.LittleEndian.AppendUint16(h, wavBits)
	h = append(h, "data"...)
	h = binary.LittleEndian.AppendUint32(h, data)
	if _, err := w.Write(h); err != nil {
		return err
	}
	second := oneSecond()
	for range seconds {
		if _, err := w.Write(second); err != nil {
			return err
		}
	}
	return nil
}
