package main

import (
	"fmt"
	"slices"
)

// stat summarises repeated measurements of one quantity: the median is what
// ratios and targets use, min and max show the spread between runs.
type stat struct {
	N      int     `json:"n"`
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	// LowerBound: at least one run was stopped at its time limit, so the
	// true values are larger than these.
	LowerBound bool `json:"lowerBound,omitempty"`
}

// summarize returns the median, min and max of xs (the median of an even
// count is the mean of the two middle values). An empty xs gives N == 0.
func summarize(xs []float64) stat {
	if len(xs) == 0 {
		return stat{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return stat{N: len(s), Median: m, Min: s[0], Max: s[len(s)-1]}
}

// Spread is (max - min) / median: 0.10 means the runs were within 10% of
// the median's size of each other.
func (s stat) Spread() float64 {
	if s.N == 0 || s.Median == 0 {
		return 0
	}
	return (s.Max - s.Min) / s.Median
}

// format prints "median (min-max, ±spread)" with the given number of
// decimals, "-" when there is nothing, and ">" before a lower bound.
func (s stat) format(decimals int) string {
	if s.N == 0 {
		return "-"
	}
	gt := ""
	if s.LowerBound {
		gt = ">"
	}
	if s.N == 1 {
		return fmt.Sprintf("%s%.*f", gt, decimals, s.Median)
	}
	return fmt.Sprintf("%s%.*f (%.*f-%.*f, %.0f%%)", gt, decimals, s.Median, decimals, s.Min, decimals, s.Max, 100*s.Spread())
}
