//! The lecture's shape walk, line for line.

use alexnet_lab::candle::{Device, Tensor};
use alexnet_lab::lecture::shapes;
use alexnet_lab::ModelKind;

const LECTURE_WALK: &str = "\
Conv2d output shape: [1, 96, 54, 54]
ReLU output shape: [1, 96, 54, 54]
MaxPool2d output shape: [1, 96, 26, 26]
Conv2d output shape: [1, 256, 26, 26]
ReLU output shape: [1, 256, 26, 26]
MaxPool2d output shape: [1, 256, 12, 12]
Conv2d output shape: [1, 384, 12, 12]
ReLU output shape: [1, 384, 12, 12]
Conv2d output shape: [1, 384, 12, 12]
ReLU output shape: [1, 384, 12, 12]
Conv2d output shape: [1, 256, 12, 12]
ReLU output shape: [1, 256, 12, 12]
MaxPool2d output shape: [1, 256, 5, 5]
Flatten output shape: [1, 6400]
Linear output shape: [1, 4096]
ReLU output shape: [1, 4096]
Dropout output shape: [1, 4096]
Linear output shape: [1, 4096]
ReLU output shape: [1, 4096]
Dropout output shape: [1, 4096]
Linear output shape: [1, 10]
";

#[test]
fn alexnet_walk_is_the_lectures_21_lines() {
    let (net, _) = ModelKind::AlexNet.init(None, 0, &Device::Cpu).unwrap();
    let steps = shapes::walk_random(&net, 0).unwrap();
    assert_eq!(steps.len(), 21);
    assert_eq!(shapes::render(&steps), LECTURE_WALK);
}

#[test]
fn walked_shapes_equal_inferred_shapes_for_every_model() {
    for kind in [ModelKind::AlexNet, ModelKind::AlexNetOriginal, ModelKind::LeNet] {
        let (net, _) = kind.init(None, 0, &Device::Cpu).unwrap();
        let [c, h, w] = net.input_dims();
        let x = Tensor::rand(0f32, 1f32, (2, c, h, w), &Device::Cpu).unwrap();
        let walked: Vec<Vec<usize>> = shapes::walk(&net, &x).unwrap().0.into_iter().map(|s| s.output_shape).collect();
        let inferred: Vec<Vec<usize>> =
            net.output_shapes().unwrap().into_iter().map(|s| [vec![2], s].concat()).collect();
        assert_eq!(walked, inferred, "{kind:?}");
    }
}
