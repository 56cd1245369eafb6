import pytest
import torch
from torch import nn

from ray_semiqc.config import load_preset
from ray_semiqc.models.fcn import VGGFCN
from ray_semiqc.models.registry import build_network
from ray_semiqc.tasks import AORTA, SAX


def _convs(module: nn.Module) -> list[nn.Conv2d]:
    return [m for m in module.modules() if isinstance(m, nn.Conv2d)]


def test_fcn_has_the_ukbb_cardiac_2_2_3_3_3_design():
    net = build_network("vgg_fcn", AORTA, load_preset("paper").seg).network
    per_scale = [_convs(scale) for scale in net.encoder]
    assert [len(c) for c in per_scale] == [2, 2, 3, 3, 3]
    assert [c[0].out_channels for c in per_scale] == [16, 32, 64, 128, 256]
    # stride 2 at the start of scales 2–5 only
    assert [[conv.stride[0] for conv in scale] for scale in per_scale] == [
        [1, 1],
        [2, 1],
        [2, 1, 1],
        [2, 1, 1],
        [2, 1, 1],
    ]
    # 13 encoder convs + 5 per-scale feature convs + two 1×1 convs + the classifier
    assert len(_convs(net)) == 13 + 5 + 3


def test_fcn_parameter_count_matches_hand_count():
    filters, blocks, scale_features, head = (4, 8, 8, 8, 8), (2, 2, 3, 3, 3), 6, 10
    net = VGGFCN(1, 2, filters, blocks, scale_features, head)

    def conv_bn(c_in, c_out, k):  # conv without bias, then BatchNorm's weight and bias
        return k * k * c_in * c_out + 2 * c_out

    expected, previous = 0, 1
    for width, n in zip(filters, blocks):
        expected += conv_bn(previous, width, 3) + (n - 1) * conv_bn(width, width, 3)
        previous = width
    expected += sum(conv_bn(width, scale_features, 3) for width in filters)
    expected += conv_bn(5 * scale_features, head, 1) + conv_bn(head, head, 1) + (head * 2 + 2)
    assert sum(p.numel() for p in net.parameters()) == expected


def test_unet_is_monais_residual_unet_with_the_configured_channels():
    from monai.networks.blocks import ResidualUnit
    from monai.networks.nets import UNet

    seg = load_preset("paper").seg
    net = build_network("res_unet", SAX, seg).network
    assert isinstance(net, UNet)
    assert net.channels == (16, 32, 64, 128, 256) and net.out_channels == 4 and net.num_res_units == 2
    assert sum(isinstance(m, ResidualUnit) for m in net.modules()) == 5 + 4  # encoder + bottom, decoder (one each)


@pytest.mark.parametrize("name,task", [("res_unet", SAX), ("vgg_fcn", AORTA)])
@pytest.mark.parametrize("height,width", [(37, 50), (17, 33)])
def test_networks_take_any_in_plane_size(name, task, height, width):
    net = build_network(name, task, load_preset("smoke").seg).eval()
    with torch.no_grad():
        logits = net(torch.randn(2, 1, height, width, generator=torch.Generator().manual_seed(0)))
    assert logits.shape == (2, task.n_classes, height, width)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("name,task", [("res_unet", SAX), ("vgg_fcn", AORTA)])
def test_padding_wrapper_is_transparent_on_multiples_of_16(name, task):
    wrapped = build_network(name, task, load_preset("smoke").seg).eval()
    image = torch.randn(1, 1, 48, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(wrapped(image), wrapped.network(image))


def test_unknown_network_name_is_refused():
    seg = load_preset("smoke").seg
    with pytest.raises(ValueError, match=r"unknown network 'unet3d'.*res_unet.*vgg_fcn"):
        build_network("unet3d", SAX, seg)
