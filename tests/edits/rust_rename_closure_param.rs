kind=rename
//- text
pub fn scaled(values: &[f64], factor: f64) -> Vec<f64> {
    let offset = values.iter().cloned().fold(f64::INFINITY, f64::min);
    let shift = |offset: f64| offset * 0.5;
    values.iter().map(|v| (v - offset) * factor + shift(offset)).collect()
}
//- edit
2: offset -> minimum
//- expect
4: offset -> minimum
4.2: offset -> minimum
